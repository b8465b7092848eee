"""GX Data Docs for auditors: one page per validated batch, an index of them all, a page per suite.

The gate validates in a throwaway in-memory GX context (see `validation`); this module keeps what an
auditor should see afterwards. Each batch's suite result is stored as JSON in a filesystem validation
store and rendered into a static site with GX's own site builder, so the index grows with every batch
and survives between task processes:

    <data dir>/reports/data_docs/index.html        (CDW_DATA_DOCS_DIR moves it)
    <data dir>/reports/gx/                         stored results and suites behind the pages

Before anything is stored, the per-row details the gate needed (the `_source_row` numbers of failing
rows) are dropped: pages carry counts, percentages and table-level observed values only, the same
figures as `audit.dq_results`. Quarantined rows are listed in `audit.quarantine_index`, not here.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from community_dw import data_docs_assets, paths

SITE_NAME = "local_site"
# Per-row lists and value samples; none of them may reach a page.
_ROW_LEVEL_KEYS = re.compile(r"unexpected_index|partial_unexpected|unexpected_list|unexpected_rows|details")


def site_dir() -> Path:
    return Path(os.environ.get("CDW_DATA_DOCS_DIR", paths.data_dir() / "reports" / "data_docs")).resolve()


def index_limit() -> int:
    return int(os.environ.get("CDW_DATA_DOCS_INDEX_LIMIT", "300"))


def store_dir() -> Path:
    return site_dir().parent / "gx"


def summarized(result: dict[str, Any]) -> dict[str, Any]:
    """An expectation's result without row-level lists: what GX's SUMMARY format keeps, minus samples."""
    return {k: v for k, v in (result or {}).items() if not _ROW_LEVEL_KEYS.search(k)}


def _context():
    from great_expectations.data_context import get_context
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
    )

    stores = store_dir()
    defaults = InMemoryStoreBackendDefaults(init_temp_docs_sites=False)
    config = DataContextConfig(store_backend_defaults=defaults)
    for store_name, folder in (
        ("expectations_store", "expectations"),
        ("validation_results_store", "validations"),
    ):
        config.stores[store_name]["store_backend"] = {
            "class_name": "TupleFilesystemStoreBackend",
            "base_directory": str(stores / folder),
        }
    # GX's own views with Jinja's bytecode cache (community_dw.data_docs_views), which GX imports by name.
    page_view = {"module_name": "community_dw.data_docs_views", "class_name": "CachedPageView"}
    index_view = {"module_name": "community_dw.data_docs_views", "class_name": "CachedIndexPageView"}
    config.data_docs_sites = {
        SITE_NAME: {
            "class_name": "SiteBuilder",
            "show_how_to_buttons": False,
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(site_dir())},
            # Merged into GX's default sections: only their view changes.
            "site_section_builders": {
                section: {"view": page_view} for section in ("expectations", "validations", "profiling")
            },
            # The index lists the newest results only: GX reads every listed result to draw it, so an
            # index of a year of hourly batches would cost each batch seconds. Older pages stay on disk
            # and every result stays in audit.dq_results.
            "site_index_builder": {
                "class_name": "DefaultSiteIndexBuilder",
                "validation_results_limit": index_limit(),
                "view": index_view,
            },
        }
    }
    return get_context(project_config=config, mode="ephemeral")


def safe_name(text: str) -> str:
    """Batch ids hold slashes and colons; store keys become folder names."""
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", text)


def publish(validation_result: Any, source: str, batch_id: str, run_id: str | None) -> Path:
    """Store one batch's summarized suite result and re-render its page and the index; returns the index."""
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    from community_dw.contracts import get_contract
    from community_dw.validation import load_suite

    context = _context()
    for result in validation_result.results:
        result.result = summarized(result.result)
    validation_result.meta.update(
        {"source": source, "batch_id": batch_id, "airflow_run_id": run_id, "batch_parameters": None}
    )
    run = RunIdentifier(run_name=safe_name(run_id or "manual"), run_time=datetime.now(UTC))
    validation_result.meta["run_id"] = run
    suite_key = ExpectationSuiteIdentifier(name=validation_result.suite_name)
    result_key = ValidationResultIdentifier(
        expectation_suite_identifier=suite_key, run_id=run, batch_identifier=safe_name(batch_id)
    )
    context.suites.add_or_update(gx.ExpectationSuite(**load_suite(source)))
    context.validation_results_store.set(result_key, validation_result)
    site = site_dir()
    suite_page = site / "expectations" / f"{validation_result.suite_name}.html"
    suite_file = paths.EXPECTATIONS_DIR / f"{source}.json"
    # The suite's page changes only with its file and its contract (the generic rules come from the
    # contract); the result page and the index change every batch.
    sources_changed = max(suite_file.stat().st_mtime, get_contract(source).path.stat().st_mtime)
    stale = not suite_page.exists() or suite_page.stat().st_mtime < sources_changed
    keys = [suite_key, result_key] if stale else [result_key]
    context.build_data_docs(site_names=[SITE_NAME], resource_identifiers=keys)
    pages = [site / "index.html"]
    for key in keys:
        for entry in context.get_docs_sites_urls(resource_identifier=key, site_name=SITE_NAME):
            pages.append(Path(unquote(urlparse(entry["site_url"]).path)))
    for page in pages:
        data_docs_assets.make_offline(page, site)
    return site / "index.html"
