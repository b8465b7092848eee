"""`cdw`: the command line of community-dw (generate data, run the demo, build the dbt manifest, ...).

The console script lives here, in the tooling package, and adds the runtime's own commands
(`community_dw.cli.add_commands`: dbt-manifest, data-docs-assets, airflow) to the tooling's (generate,
demo, summary). Dependencies then point one way only, tooling -> runtime: the runtime package never
imports this one, not even lazily, so an image without the `tools` extra has no Faker and no code path
that wants it. The tooling commands import Faker only when they run, so `cdw airflow ...` and
`cdw dbt-manifest` work without the extra installed.
"""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import date
from pathlib import Path

from community_dw import cli as runtime_cli
from community_dw import paths
from community_dw_tools.demo import DemoProfile


def _generate(args: argparse.Namespace) -> int:
    from community_dw_tools.synthetic import generate_city

    report = generate_city(
        Path(args.out) if args.out else paths.sources_dir(),
        residents=args.residents,
        days=args.days,
        seed=args.seed,
        defect_rate=args.defect_rate,
        start_date=date.fromisoformat(args.start_date),
    )
    print("\n".join(report.summary_lines()))
    return 0


def _demo(args: argparse.Namespace) -> int:
    from community_dw_tools import demo

    profile = DemoProfile(
        residents=args.residents, days=args.days, seed=args.seed, defect_rate=args.defect_rate
    )
    return demo.main(profile)


def _summary(args: argparse.Namespace) -> int:
    from community_dw_tools.summary import print_summary

    print_summary({})
    return 0


def _airflow_distributed(args: argparse.Namespace) -> int:
    from community_dw_tools import distributed

    return distributed.run()


def build_parser() -> argparse.ArgumentParser:
    defaults = DemoProfile()
    parser = argparse.ArgumentParser(prog="cdw", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    def city_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--residents", type=int, default=defaults.residents, help="residents in the city")
        p.add_argument("--days", type=int, default=defaults.days, help="days of extracts")
        p.add_argument("--seed", type=int, default=defaults.seed, help="random seed (same seed, same files)")
        p.add_argument(
            "--defect-rate",
            type=float,
            default=defaults.defect_rate,
            help="share of rows given a deliberate defect (0 for clean data)",
        )

    generate = sub.add_parser(
        "generate", help="write a synthetic city's extracts as the producers deliver them"
    )
    city_options(generate)
    generate.add_argument("--start-date", default=defaults.start_date.isoformat())
    generate.add_argument("--out", help=f"output folder (default {paths.sources_dir()})")
    generate.set_defaults(func=_generate)

    demo = sub.add_parser("demo", help="generate a city and run the DAGs end to end through Airflow")
    city_options(demo)
    demo.set_defaults(func=_demo)

    summary = sub.add_parser("summary", help="print the ledger, defects caught and models built")
    summary.set_defaults(func=_summary)

    distributed = sub.add_parser(
        "airflow-distributed",
        help="run Airflow as docker-compose does (CeleryExecutor, two workers, PostgreSQL, Redis) as local processes",
    )
    distributed.set_defaults(func=_airflow_distributed)

    runtime_cli.add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
