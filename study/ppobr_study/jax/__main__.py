import sys

from benchmarks.jax_study.cli import main

sys.exit(main())
