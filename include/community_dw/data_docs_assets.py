"""Make GX Data Docs readable without internet: serve their scripts and styles from the site itself.

GX 1.24 writes pages that load jQuery, Bootstrap, bootstrap-table and Font Awesome from public CDNs, and
a logo from GX's S3 bucket with the data context id in the query string. Auditors often read the site
on a machine with no internet (or should not beacon out of a governed network): there the index page is
empty, because bootstrap-table renders its list in the browser. GX has no option to self-host these,
so this module does it:

- `install()` (run by `make` after the Python packages) fetches the exact files from the npm registry,
  checks each tarball's published sha512 integrity, and keeps them beside the virtualenv;
- `make_offline(page, site)` copies them into the site's `static/vendor/` and rewrites a page's links
  to relative paths. Vega (used only by profiling charts, which these pages do not have) is dropped.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import os
import re
import shutil
import sys
import tarfile
import urllib.request
from pathlib import Path

log = logging.getLogger(__name__)

# (URL as GX 1.24.1 writes it, npm package, version, file in the package tarball)
ASSETS = (
    ("https://code.jquery.com/jquery-3.7.1.min.js", "jquery", "3.7.1", "dist/jquery.min.js"),
    (
        "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js",
        "popper.js",
        "1.12.9",
        "dist/umd/popper.min.js",
    ),
    (
        "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js",
        "bootstrap",
        "4.3.1",
        "dist/js/bootstrap.min.js",
    ),
    (
        "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css",
        "bootstrap",
        "4.3.1",
        "dist/css/bootstrap.min.css",
    ),
    (
        "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js",
        "bootstrap-table",
        "1.19.1",
        "dist/bootstrap-table.min.js",
    ),
    (
        "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css",
        "bootstrap-table",
        "1.19.1",
        "dist/bootstrap-table.min.css",
    ),
    (
        "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js",
        "bootstrap-table",
        "1.19.1",
        "dist/extensions/filter-control/bootstrap-table-filter-control.min.js",
    ),
    (
        "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css",
        "bootstrap-table",
        "1.19.0",
        "dist/extensions/filter-control/bootstrap-table-filter-control.css",
    ),
    (
        "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css",
        "bootstrap-table",
        "1.19.0",
        "dist/extensions/filter-control/bootstrap-table-filter-control.min.css",
    ),
    (
        "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js",
        "bootstrap-datepicker",
        "1.9.0",
        "dist/js/bootstrap-datepicker.min.js",
    ),
    (
        "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css",
        "bootstrap-datepicker",
        "1.9.0",
        "dist/css/bootstrap-datepicker.min.css",
    ),
    (
        "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css",
        "@fortawesome/fontawesome-free",
        "6.6.0",
        "css/all.min.css",
    ),
    (
        "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css",
        "@forevolve/bootstrap-dark",
        "1.1.0",
        "dist/css/bootstrap-prefers-dark.css",
    ),
)
# Folders a stylesheet refers to relatively (Font Awesome's fonts), fetched whole.
EXTRA_FOLDERS = {("@fortawesome/fontawesome-free", "6.6.0"): "webfonts/"}
_VEGA_SCRIPT = re.compile(r'<script src="https://cdn\.jsdelivr\.net/npm/vega[^"]*"></script>\s*')
_GX_LOGO = re.compile(r'src="https://great-expectations-web-assets\.s3[^"]*/(logo-long\.png)\?[^"]*"')


def assets_dir() -> Path:
    default = Path(sys.prefix) / "share" / "community-dw" / "data-docs-assets"
    return Path(os.environ.get("CDW_DATA_DOCS_ASSETS_DIR", default))


def _package_dir(package: str, version: str) -> Path:
    return Path(f"{package.replace('/', '__')}@{version}")


def _registry() -> str:
    return os.environ.get("NPM_CONFIG_REGISTRY", "https://registry.npmjs.org").rstrip("/")


def _fetch_verified(package: str, version: str) -> bytes:
    """The package tarball, checked against the sha512 integrity the registry publishes for it."""
    with urllib.request.urlopen(f"{_registry()}/{package}/{version}", timeout=60) as response:
        dist = json.load(response)["dist"]
    with urllib.request.urlopen(dist["tarball"], timeout=120) as response:
        tarball = response.read()
    algorithm, expected = dist["integrity"].split("-", 1)
    if base64.b64encode(hashlib.new(algorithm, tarball).digest()).decode() != expected:
        raise RuntimeError(
            f"{package}@{version}: tarball does not match the registry's {algorithm} integrity"
        )
    return tarball


def install(target: Path | None = None) -> Path:
    """Fetch every asset once; a complete earlier install is kept."""
    target = target or assets_dir()
    wanted: dict[tuple[str, str], set[str]] = {}
    for _url, package, version, member in ASSETS:
        wanted.setdefault((package, version), set()).add(member)
    for (package, version), members in wanted.items():
        folder = target / _package_dir(package, version)
        extra = EXTRA_FOLDERS.get((package, version))
        if all((folder / m).exists() for m in members) and (extra is None or (folder / extra).is_dir()):
            continue
        with tarfile.open(fileobj=io.BytesIO(_fetch_verified(package, version)), mode="r:gz") as archive:
            for entry in archive.getmembers():
                name = entry.name.split("/", 1)[1] if "/" in entry.name else entry.name
                if entry.isfile() and (name in members or (extra and name.startswith(extra))):
                    destination = folder / name
                    destination.parent.mkdir(parents=True, exist_ok=True)
                    destination.write_bytes(archive.extractfile(entry).read())
        log.info("data docs asset %s@%s installed in %s", package, version, folder)
    return target


def installed() -> bool:
    return all((assets_dir() / _package_dir(p, v) / m).exists() for _u, p, v, m in ASSETS)


def make_offline(page: Path, site: Path) -> None:
    """Point one rendered page at the site's own copies of its scripts, styles and logo."""
    if not installed():
        log.warning("Data Docs assets are not installed (make does it); %s will need internet", page)
        return
    vendor = site / "static" / "vendor"
    if not vendor.exists():
        shutil.copytree(assets_dir(), vendor)
    html = page.read_text(encoding="utf-8")
    for url, package, version, member in ASSETS:
        local = os.path.relpath(vendor / _package_dir(package, version) / member, page.parent)
        html = html.replace(f'"{url}"', f'"{local}"')
    html = _VEGA_SCRIPT.sub("", html)
    logo = os.path.relpath(site / "static" / "images" / "logo-long.png", page.parent)
    html = _GX_LOGO.sub(f'src="{logo}"', html)
    page.write_text(html, encoding="utf-8")
