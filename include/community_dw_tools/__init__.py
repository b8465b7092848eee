"""Tooling around the warehouse, not needed to run it: the synthetic city generator, the development
appeals API server, the in-process DAG runner, the demo and its summary, and the `cdw` command line.

Installed with the `tools` extra (Faker). Imports `community_dw`; `community_dw` never imports this.
"""
