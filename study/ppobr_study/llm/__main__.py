"""``python -m ppobr_study.llm run --out DIR`` runs the GRPO study (resumable: finished runs are
skipped); ``python -m ppobr_study.llm report --out DIR`` writes its tables and plots."""

from __future__ import annotations

import argparse

from ppobr_study.llm.controllers import RULES
from ppobr_study.llm.tasks import TASKS


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ppobr_study.llm")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run every (seed, task, rule), seed-major, skipping done ones")
    run.add_argument("--out", required=True)
    run.add_argument("--seeds", type=int, default=10)
    run.add_argument("--first-seed", type=int, default=0, help="start here (a second worker)")
    run.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    run.add_argument("--rules", nargs="+", default=list(RULES), choices=list(RULES))
    report = sub.add_parser("report", help="tables (markdown) and plots from the result files")
    report.add_argument("--out", required=True)
    report.add_argument("--plots", default=None, help="folder for the PNG plots")
    args = parser.parse_args(argv)
    if args.command == "run":
        from ppobr_study.llm.run import run_one

        for seed in range(args.first_seed, args.seeds):
            for task in args.tasks:
                for rule in args.rules:
                    print(run_one(args.out, task, rule, seed), flush=True)
    else:
        from ppobr_study.llm.report import write_report

        print(write_report(args.out, args.plots))


if __name__ == "__main__":
    main()
