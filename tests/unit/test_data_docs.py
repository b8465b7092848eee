"""Data Docs pages: summarized results only, and every script, style and image served by the site."""

from __future__ import annotations

import re

from community_dw import data_docs, data_docs_assets


def test_summarized_results_drop_every_row_level_list():
    result = {
        "element_count": 10,
        "unexpected_count": 2,
        "unexpected_percent": 20.0,
        "observed_value": 2,
        "unexpected_index_list": [{"_source_row": [3, 7]}],
        "partial_unexpected_list": ["13800000000"],
        "partial_unexpected_counts": [{"value": "13800000000", "count": 1}],
        "unexpected_list": ["13800000000"],
        "details": {"unexpected_rows": [{"_source_row": 3}]},
    }
    assert data_docs.summarized(result) == {
        "element_count": 10,
        "unexpected_count": 2,
        "unexpected_percent": 20.0,
        "observed_value": 2,
    }


def test_pages_are_pointed_at_the_site_copies_of_their_assets(tmp_path):
    assert data_docs_assets.installed(), "make installs the Data Docs assets (cdw data-docs-assets)"
    site = tmp_path / "site"
    page = site / "validations" / "suite" / "run" / "20261125T000000Z" / "batch.html"
    page.parent.mkdir(parents=True)
    links = "\n".join(
        f'<script src="{url}"></script>' if url.endswith(".js") else f'<link rel="stylesheet" href="{url}"/>'
        for url, *_ in data_docs_assets.ASSETS
    )
    page.write_text(
        f"<html><head>{links}\n"
        '<script src="https://cdn.jsdelivr.net/npm/vega@5"></script>\n'
        '</head><body><img src="https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/'
        'logo-long.png?d=20261125&dataContextId=abc"/></body></html>',
        encoding="utf-8",
    )
    data_docs_assets.make_offline(page, site)
    html = page.read_text(encoding="utf-8")
    assert "https://" not in html
    local = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert len(local) == len(data_docs_assets.ASSETS) + 1
    for reference in local:
        if "logo-long.png" in reference:
            continue  # GX copies its images into the site's static folder when it builds
        assert (page.parent / reference).resolve().is_file(), reference
