"""`ppobr`: the console command. `ppobr compare` answers "does PPO-BR beat PPO on my task?".

    ppobr                      # = ppobr compare: the embedded default (CartPole-v1, ppo vs ppobr,
                               #   5 seeds each, DEFAULT_STEPS steps), a few minutes on 2 cores
    ppobr compare --env LunarLander-v3 --controllers ppo,ppobr,ppo-wide --seeds 10 --workers 8
    ppobr compare --env CartPole-v1 --steps paper --seeds 10 --out runs/repro
    ppobr compare ... --ray auto     # the same runs spread over a Ray cluster
    ppobr controllers          # the controller presets
    ppobr compact runs/repro docs/results/repro   # compact copies of finished runs, for git
    ppobr report docs/results docs/results/repro  # the paper's three claims over its six tasks
    ppobr reruns docs/results docs/results/repro  # runs recorded twice: identical to the last bit?

This module is the command line only: the arguments and the dispatch to the module that does
each job: compare.py (the comparison and its resumption), runner.py (the runs over worker
processes or Ray), summary.py and tables.py (the statistics and their tables), runfolder.py
(compact), report.py and reruns.py.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import List, Optional, Sequence

from ppobr_study.compare import (
    DEFAULT_CONTROLLERS,
    DEFAULT_ENV,
    DEFAULT_OUT,
    DEFAULT_SEEDS,
    DEFAULT_STEPS,
)


def parse_seeds(text: str) -> List[int]:
    """ "5" -> 0..4; "3-7" -> 3..7; "0,2,4" -> those."""
    text = str(text).strip()
    try:
        if "," in text:
            return sorted({int(s) for s in text.split(",") if s.strip()})
        if "-" in text[1:]:
            a, b = text.split("-", 1)
            return list(range(int(a), int(b) + 1))
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--seeds: expected N, A-B or a,b,c; got {text!r}"
        ) from None
    if n < 1:
        raise argparse.ArgumentTypeError("--seeds: at least one seed")
    return list(range(n))


def build_parser() -> argparse.ArgumentParser:
    from ppobr_study.presets import names

    parser = argparse.ArgumentParser(
        prog="ppobr",
        description="PPO-BR's adaptive clip range: does it beat PPO on your task? "
        "Without a subcommand, runs `ppobr compare` with its embedded default.",
    )
    sub = parser.add_subparsers(dest="command")
    c = sub.add_parser(
        "compare",
        help="train PPO with several clip-range controllers over seeds and compare them",
        description="Train PPO (CleanRL defaults) with each controller and seed, write the run folder, "
        "and print the statistics of docs/PROTOCOL.md. Reruns skip finished (env, controller, seed) runs.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    c.add_argument(
        "--env",
        default=DEFAULT_ENV,
        help="gymnasium task id(s), comma-separated (e.g. CartPole-v1,LunarLander-v3)",
    )
    c.add_argument(
        "--controllers",
        default=",".join(DEFAULT_CONTROLLERS),
        help=f"comma-separated presets, the first is the baseline; one of: {', '.join(names())}",
    )
    c.add_argument(
        "--seeds",
        default=str(DEFAULT_SEEDS),
        type=parse_seeds,
        help="N (seeds 0..N-1), A-B, or a,b,c",
    )
    c.add_argument(
        "--steps",
        default=None,
        help=f"environment steps per run, or 'paper' for the reproduction budget "
        f"(CartPole 500k, others 1M). Default: {DEFAULT_STEPS} for {DEFAULT_ENV}, "
        f"the paper budget for other tasks",
    )
    c.add_argument(
        "--workers",
        type=int,
        default=None,
        help="parallel worker processes, each with torch.set_num_threads(1) "
        "(default: one per CPU core)",
    )
    c.add_argument("--out", default=DEFAULT_OUT, help="the run folder")
    c.add_argument(
        "--ray",
        default=None,
        metavar="ADDRESS",
        help="run on a Ray cluster: 'auto', host:port or ray://host:10001; 'local' starts "
        "a local Ray instance. Every node needs this package installed",
    )
    c.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="return threshold for steps-to-threshold (default: the task's, docs/PROTOCOL.md)",
    )
    c.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    c.add_argument("--no-progress", action="store_true", help="no progress bar")
    c.add_argument(
        "--compact",
        action="store_true",
        help="write each run's CSVs gzipped, keeping of each iteration only what the "
        "statistics and plots read and the controller's signals (for a run folder "
        "kept in git, like the reproduction's docs/results/repro)",
    )
    c.add_argument(
        "--summarize-only",
        action="store_true",
        help="run nothing: the statistics, table and plots of the runs finished so far "
        "(an interim look at a sweep that another process is running)",
    )
    sub.add_parser("controllers", help="list the controller presets")
    k = sub.add_parser(
        "compact",
        help="copy the finished runs of a run folder compactly into another",
        description="Compact copies (gzipped, the iteration columns of --compact) of "
        "every finished run under SRC that DST does not hold yet; DST can then be "
        "passed to `ppobr compare --out`, which resumes from it.",
    )
    k.add_argument("src", help="a run folder (ppobr compare --out)")
    k.add_argument("dst", help="the run folder to copy into")
    r = sub.add_parser(
        "report",
        help="the paper's three claims over its six tasks, from compare's summaries",
        description="Reads every FOLDER/*/summary.json, takes per paper task the one with "
        "the most PPO and PPO-BR runs, and prints the verdicts of docs/PROTOCOL.md as "
        "Markdown tables.",
    )
    r.add_argument("folders", nargs="+", help="run folders (or folders of copied groups)")
    r.add_argument(
        "--update",
        metavar="FILE",
        default=None,
        help="write the tables into FILE between its two `ppobr report` marker lines "
        "instead of printing them",
    )
    u = sub.add_parser(
        "reruns",
        help="check that runs recorded by several summaries are bit-identical",
        description="Reads every FOLDER/*/summary.json and compares, for each run "
        "(env, budget, controller, seed) that more than one of them records, the "
        "per-run numbers that learning decides (exactly; timings are not compared). "
        "Exit status 1 if any differ.",
    )
    u.add_argument("folders", nargs="+", help="run folders (or folders of copied groups)")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = "ppobr " + " ".join(shlex.quote(a) for a in argv) if argv else "ppobr"
    parser = build_parser()
    if not argv:
        argv = ["compare"]
    args = parser.parse_args(argv)
    if args.command == "controllers":
        from ppobr_study.presets import DESCRIPTIONS

        for name, desc in DESCRIPTIONS.items():
            print(f"{name:15s} {desc}")
        return 0
    if args.command == "compact":
        from ppobr_study import runfolder

        if not Path(args.src).is_dir():
            parser.error(f"src: no such run folder: {args.src}")
        copied = runfolder.compact_folder(Path(args.src), Path(args.dst))
        print(
            f"ppobr compact: {len(copied)} finished run(s) copied from {args.src}/ to {args.dst}/"
        )
        return 0
    if args.command == "report":
        from ppobr_study import report

        missing = [f for f in args.folders if not Path(f).is_dir()]
        if missing:
            parser.error(f"folders: no such folder: {', '.join(missing)}")
        text = report.report([Path(f) for f in args.folders])
        if args.update:
            try:
                report.update_file(Path(args.update), text)
            except (OSError, ValueError) as e:
                parser.error(str(e))
            print(f"ppobr report: tables written into {args.update}")
        else:
            print(text)
        return 0
    if args.command == "reruns":
        from ppobr_study import reruns

        missing = [f for f in args.folders if not Path(f).is_dir()]
        if missing:
            parser.error(f"folders: no such folder: {', '.join(missing)}")
        repeated, mismatches = reruns.check(reruns.collect([Path(f) for f in args.folders]))
        print(reruns.format_report(repeated, mismatches))
        return 1 if mismatches else 0
    if args.command != "compare":
        parser.print_help()
        return 2
    envs = [e.strip() for e in args.env.split(",") if e.strip()]
    controllers = [c.strip() for c in args.controllers.split(",") if c.strip()]
    if args.workers is not None and args.workers < 1:
        parser.error("--workers: at least 1")
    from ppobr_study.compare import compare

    result = compare(
        envs,
        controllers,
        args.seeds,
        args.steps,
        workers=args.workers,
        out=args.out,
        ray_address=args.ray,
        threshold=args.threshold,
        plots=not args.no_plots,
        progress=not args.no_progress,
        compact=args.compact,
        summarize_only=args.summarize_only,
        command=command,
    )
    return 1 if result["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
