"""``python -m ppobr_study.jax``: the JAX trainer's command (cli.py)."""

import sys

from ppobr_study.jax.cli import main

if __name__ == "__main__":
    sys.exit(main())
