# community-dw: the two commands are `make demo` and `make test`. Both create or update .venv from the
# exact pins in requirements.txt first (uv when it is on PATH, else pip).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: demo test lint unit browser compose-cli pgaudit airflow airflow-distributed lock manifest clean help bench bench-ingest bench-30d

help:
	@echo "make demo     generate the demo city and run every DAG end to end on DuckDB"
	@echo "make test     lint + the whole test suite (unit, DAG integrity, end to end)"
	@echo "make airflow  start Airflow standalone with this repository's DAGs (http://localhost:8080)"
	@echo "make airflow-distributed  the docker-compose topology as local processes: CeleryExecutor, two"
	@echo "              workers, PostgreSQL and Redis on localhost (or AIRFLOW__DATABASE__SQL_ALCHEMY_CONN,"
	@echo "              AIRFLOW__CELERY__BROKER_URL)"
	@echo "make bench    every figure of issue 13 on a generated district-day, each beside its baseline"
	@echo "              (BENCH_ARGS='--residents 100000 --skip warehouse' for a quicker run); never in make test"
	@echo "make bench-ingest  ingest a generated district-day and compare with plain reads/writes"
	@echo "make lock     recompile requirements.txt from requirements.in"

$(INSTALLED): requirements.txt pyproject.toml include/community_dw/data_docs_assets.py include/community_dw/_hmac_sha256.c
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	if command -v uv >/dev/null 2>&1; then \
		uv pip install --python $(BIN)/python -r requirements.txt && \
		uv pip install --python $(BIN)/python --no-deps -e . ; \
	else \
		$(BIN)/python -m pip install --quiet -r requirements.txt && \
		$(BIN)/python -m pip install --quiet --no-deps -e . ; \
	fi
	$(BIN)/cdw data-docs-assets
	touch $(INSTALLED)

manifest: $(INSTALLED)
	$(BIN)/cdw dbt-manifest

# The demo may generate a local pseudonymization key (it says so); production sets CDW_PSEUDONYMIZATION_KEY.
demo: $(INSTALLED)
	CDW_ALLOW_LOCAL_KEY=1 $(BIN)/cdw demo

lint: $(INSTALLED) manifest
	mkdir -p data
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	CDW_WAREHOUSE_PATH=$(CURDIR)/data/lint.duckdb $(BIN)/sqlfluff lint dbt_project/models dbt_project/macros dbt_project/tests dbt_project/snapshots

unit: $(INSTALLED) manifest
	$(BIN)/python -m pytest -m "not e2e"

test: lint browser compose-cli pgaudit
	$(BIN)/python -m pytest

# Page tests (GX Data Docs) read the rendered DOM from Debian's headless Chromium.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "installing Debian's chromium for the page tests"; \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -qq && \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

# tests/unit/test_compose.py validates docker-compose.yaml offline with Debian's docker-compose (no daemon).
compose-cli:
	@command -v docker-compose >/dev/null 2>&1 || { \
		echo "installing Debian's docker-compose to validate docker-compose.yaml"; \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose; }

# tests/privacy/test_access_log.py starts a private PostgreSQL 15 with Debian's pgaudit (the access log).
pgaudit:
	@dpkg-query -W -f='$${Status}' postgresql-15-pgaudit 2>/dev/null | grep -q "ok installed" || { \
		echo "installing Debian's postgresql-15-pgaudit for the access-log tests"; \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15-pgaudit || { \
			$$SUDO apt-get update -qq && \
			$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15-pgaudit; }; }

airflow: $(INSTALLED) manifest
	CDW_ALLOW_LOCAL_KEY=1 $(BIN)/cdw airflow standalone

airflow-distributed: $(INSTALLED) manifest
	CDW_ALLOW_LOCAL_KEY=1 $(BIN)/cdw airflow-distributed

# Not part of the tests: prints figures and the ratio to a plain-read floor measured in the same run.
# dlt, the comparison loader, lives in its own virtualenv from requirements-bench.txt (bench only).
BENCH_VENV := .venv-bench
BENCH_INSTALLED := $(BENCH_VENV)/.installed

$(BENCH_INSTALLED): requirements-bench.txt $(INSTALLED)
	test -x $(BENCH_VENV)/bin/python || $(BIN)/uv venv --quiet --python $(BIN)/python $(BENCH_VENV)
	$(BIN)/uv pip install --quiet --python $(BENCH_VENV)/bin/python -r requirements-bench.txt
	touch $(BENCH_INSTALLED)

bench: $(INSTALLED) $(BENCH_INSTALLED)
	CDW_BENCH_PYTHON=$(CURDIR)/$(BENCH_VENV)/bin/python $(BIN)/python benchmarks/bench.py $(BENCH_ARGS)

bench-ingest: $(INSTALLED)
	$(BIN)/python benchmarks/bench_ingest.py

# Not part of the tests either: does a day's ingestion or build grow with the history before it?
bench-30d: $(INSTALLED) manifest
	$(BIN)/python benchmarks/bench_30d.py $(BENCH_30D_ARGS)

lock:
	$(BIN)/uv pip compile requirements.in -o requirements.txt --python-version 3.11

clean:
	rm -rf data .airflow dbt_project/target dbt_project/logs
