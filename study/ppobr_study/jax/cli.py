"""The command: ``python -m benchmarks.jax_study --config FILE [--out DIR] [--no-plots]``."""

from __future__ import annotations

import argparse
import shlex
import sys
from typing import Optional, Sequence

DEFAULT_OUT = "runs/jax_study"


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.jax_study",
        description="PPO vs PPO-BR as one jitted program per task (vmapped over controllers and "
        "seeds) on gymnax / Brax; writes ppobr compare's run folder and statistics.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    ap.add_argument("--config", required=True, help="a .toml or .json study config (configs/)")
    ap.add_argument("--out", default=DEFAULT_OUT, help="the run folder")
    ap.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    return ap


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    from benchmarks.jax_study import config as K

    try:
        cfg = K.load(args.config)
    except ValueError as e:
        print(f"config {args.config}: {e}", file=sys.stderr)
        return 2
    from benchmarks.jax_study import study

    command = "python -m benchmarks.jax_study " + " ".join(shlex.quote(a) for a in argv)
    study.run(cfg, args.out, command=command, plots=not args.no_plots,
              log=lambda s: print(s, flush=True))  # fmt: skip
    return 0
