"""The command: ``python -m ppobr_study.jax --config FILE_OR_NAME [--out DIR] [--no-plots]``.

``--config`` is a .toml / .json file or the name of a config shipped with the package
(``cpu_small``, ``gpu_full``), so the command runs from any folder once the package is
installed; ``--list-configs`` prints the shipped ones.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from typing import Optional, Sequence

DEFAULT_OUT = "runs/jax_study"
PROG = "python -m ppobr_study.jax"


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog=PROG,
        description="PPO vs PPO-BR as one jitted program per task (vmapped over controllers and "
        "seeds) on gymnax / Brax; writes ppobr compare's run folder and statistics.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    ap.add_argument(
        "--config",
        help="a .toml or .json study config, or the name of a shipped one (see --list-configs)",
    )
    ap.add_argument("--out", default=DEFAULT_OUT, help="the run folder")
    ap.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    ap.add_argument(
        "--list-configs", action="store_true", help="print the shipped configs and exit"
    )
    return ap


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    from ppobr_study.jax import config as K

    if args.list_configs:
        for name, path in sorted(K.bundled_configs().items()):
            print(f"{name:12s} {path}")
        return 0
    if args.config is None:
        parser.error(
            f"--config: is required (a file, or one of: {', '.join(sorted(K.bundled_configs()))})"
        )
    try:
        cfg = K.load(args.config)
    except ValueError as e:
        print(f"config {args.config}: {e}", file=sys.stderr)
        return 2
    from ppobr_study.jax import study

    command = f"{PROG} " + " ".join(shlex.quote(a) for a in argv)
    study.run(
        cfg, args.out, command=command, plots=not args.no_plots, log=lambda s: print(s, flush=True)
    )
    return 0
