"""`ppobr`: the console command. `ppobr compare` answers "does PPO-BR beat PPO on my task?".

    ppobr                      # = ppobr compare: the embedded default (CartPole-v1, ppo vs ppobr,
                               #   DEFAULT_SEEDS seeds each, DEFAULT_STEPS steps, jax trainer)
    ppobr --no-progress        # the bare command takes compare's flags
    ppobr compare --env Acrobot-v1 --engine jax --seeds 64   # one compiled program per worker
    ppobr compare --env my_pkg.envs:MyEnv-v0 --steps 200000  # custom gymnasium ids work
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
import importlib.util
import shlex
import sys
from pathlib import Path
from typing import List, Optional, Sequence

from ppobr_study.compare import (
    DEFAULT_CONTROLLERS,
    DEFAULT_ENV,
    DEFAULT_SEEDS,
    DEFAULT_STEPS,
    DEFAULT_TRAINER,
    TASK_SEEDS,
)

SUBCOMMANDS = ("compare", "controllers", "compact", "report", "reruns")


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
    from ppobr_study.trainers import TRAINERS

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
        default=None,
        help=f"gymnasium task id(s), comma-separated (e.g. CartPole-v1,LunarLander-v3; "
        f"module:Env-vN for a custom one). Without --env: the embedded default, {DEFAULT_ENV} "
        f"on the {DEFAULT_TRAINER} trainer with {DEFAULT_SEEDS} seeds of {DEFAULT_STEPS:,} steps",
    )
    c.add_argument(
        "--trainer",
        "--engine",
        dest="trainer",
        default=None,
        choices=list(TRAINERS),
        help="the PPO implementation (ppobr_study.trainers): torch (any gymnasium task), jax "
        "(gymnax classic control and Brax: every seed and controller of a task in one compiled "
        "program per worker; the jaxstudy extra), sb3. Default: torch, "
        f"{DEFAULT_TRAINER} for the embedded default",
    )
    c.add_argument(
        "--hyperparams",
        default=None,
        metavar="FILE",
        help="the sb3 trainer's hyper-parameters: an rl-baselines3-zoo style YAML file "
        "(top-level keys are env ids: each task takes its section; a file without them holds "
        "every task's), or JSON/TOML of the same shape. Its n_timesteps is the budget unless "
        "--steps is given; clip_range is refused (the controller sets it)",
    )
    c.add_argument(
        "--brax-backend",
        default="spring",
        help="the jax trainer's Brax physics backend (generalized, positional, spring, mjx)",
    )
    c.add_argument(
        "--controllers",
        default=",".join(DEFAULT_CONTROLLERS),
        help=f"comma-separated presets, the first is the baseline; one of: {', '.join(names())}",
    )
    c.add_argument(
        "--seeds",
        default=None,
        type=parse_seeds,
        help=f"N (seeds 0..N-1), A-B, or a,b,c. Default: {TASK_SEEDS}, {DEFAULT_SEEDS} for the "
        "embedded default",
    )
    c.add_argument(
        "--steps",
        default=None,
        help="environment steps per run (a run makes whole iterations: the table says the "
        "steps it made), or 'paper' for the protocol's budget. Default: the protocol's budget "
        "(docs/PROTOCOL.md), else CleanRL's (500k discrete, 1M continuous actions); "
        f"{DEFAULT_STEPS:,} for the embedded default",
    )
    c.add_argument(
        "--workers",
        type=int,
        default=None,
        help="parallel worker processes, each with torch.set_num_threads(1) "
        "(default: one per CPU core)",
    )
    c.add_argument(
        "--out",
        default=None,
        help="the run folder (default: runs/compare, runs/compare-jax or runs/compare-sb3 by "
        "trainer: a run folder holds one trainer's runs)",
    )
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
        help="return threshold for steps-to-threshold (default: the task's in docs/PROTOCOL.md, "
        "else the gymnasium spec's reward_threshold, else none: every statistic that needs "
        "no threshold is still reported)",
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
    if not argv or argv[0] not in SUBCOMMANDS + ("-h", "--help"):
        argv = ["compare", *argv]  # the bare `ppobr` is `ppobr compare`, flags included
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
    embedded = args.env is None  # the embedded default: each of its settings unless given
    envs = [DEFAULT_ENV] if embedded else [e.strip() for e in args.env.split(",") if e.strip()]
    trainer = args.trainer or (DEFAULT_TRAINER if embedded else "torch")
    seeds = args.seeds or list(range(DEFAULT_SEEDS if embedded else TASK_SEEDS))
    steps = args.steps if args.steps is not None else (str(DEFAULT_STEPS) if embedded else None)
    controllers = [c.strip() for c in args.controllers.split(",") if c.strip()]
    if args.workers is not None and args.workers < 1:
        parser.error("--workers: at least 1")
    from ppobr_study import trainers
    from ppobr_study.compare import compare

    if trainer == "jax" and importlib.util.find_spec("gymnax") is None:
        parser.error(
            "--trainer: the jax trainer needs the jaxstudy extra "
            "(pip install 'ppobr-core[jaxstudy]'); or pass --trainer torch"
        )
    result = compare(
        envs,
        controllers,
        seeds,
        steps,
        trainer=trainer,
        brax_backend=args.brax_backend,
        workers=args.workers,
        out=args.out or trainers.get(trainer).default_out,
        ray_address=args.ray,
        threshold=args.threshold,
        plots=not args.no_plots,
        progress=not args.no_progress,
        compact=args.compact,
        summarize_only=args.summarize_only,
        hyperparams=args.hyperparams,
        command=command,
    )
    return 1 if result["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
