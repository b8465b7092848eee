"""`cdw`: the command line of community-dw (generate data, run the demo, build the dbt manifest)."""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import date
from pathlib import Path

from community_dw import paths


def _generate(args: argparse.Namespace) -> int:
    from community_dw.synthetic import generate_city

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
    from community_dw import demo

    profile = demo.DemoProfile(
        residents=args.residents, days=args.days, seed=args.seed, defect_rate=args.defect_rate
    )
    return demo.main(profile)


def _manifest(args: argparse.Namespace) -> int:
    from community_dw.dbt_runner import build_manifest

    print(build_manifest(force=args.force))
    return 0


def _summary(args: argparse.Namespace) -> int:
    from community_dw.summary import print_summary

    print_summary({})
    return 0


def _airflow(args: argparse.Namespace) -> int:
    """Run the Airflow CLI against this repository's Airflow home and DAGs."""
    import os
    import shutil

    from community_dw import airflow_home
    from community_dw.pseudonymize import KEY_CONN_ID, use_local_key_connection

    airflow_home.configure()
    key_file = use_local_key_connection()
    if key_file:
        print(
            f"Local demo pseudonymization key {key_file} (outside data/), served as connection {KEY_CONN_ID}"
        )
    # Local development only: every visitor of localhost:8080 is an admin, no password to look up.
    os.environ.setdefault("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", "True")
    executable = shutil.which("airflow", path=str(Path(sys.executable).parent)) or "airflow"
    os.execv(executable, [executable, *args.airflow_args])
    return 0  # pragma: no cover - execv does not return


def _data_docs_assets(args: argparse.Namespace) -> int:
    from community_dw import data_docs_assets

    print(f"Data Docs assets in {data_docs_assets.install()}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from community_dw.demo import DemoProfile

    defaults = DemoProfile()
    parser = argparse.ArgumentParser(prog="cdw", description=__doc__)
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

    manifest = sub.add_parser("dbt-manifest", help="build dbt_project/target/manifest.json for Cosmos")
    manifest.add_argument("--force", action="store_true")
    manifest.set_defaults(func=_manifest)

    summary = sub.add_parser("summary", help="print the ledger, defects caught and models built")
    summary.set_defaults(func=_summary)

    assets = sub.add_parser(
        "data-docs-assets",
        help="fetch the scripts and styles GX Data Docs need to render offline (npm registry)",
    )
    assets.set_defaults(func=_data_docs_assets)

    airflow = sub.add_parser(
        "airflow", help="the Airflow CLI with this project's home and DAGs, e.g. `cdw airflow standalone`"
    )
    airflow.add_argument("airflow_args", nargs=argparse.REMAINDER)
    airflow.set_defaults(func=_airflow)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
