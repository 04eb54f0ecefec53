"""python -m ppobr_study ... is the `ppobr` console command."""

import sys

from ppobr_study.cli import main

if __name__ == "__main__":
    sys.exit(main())
