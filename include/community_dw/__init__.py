"""community_dw: the pipeline logic of the community data warehouse.

DAG files in `dags/` import from here; nothing here imports DAGs or plugins. Heavy libraries
(Great Expectations, dbt, pandas) are imported inside functions so that DAG parsing stays fast.
"""
