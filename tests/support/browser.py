"""Headless Chromium for page tests: the DOM a reader sees after the page's scripts have run.

Debian's `chromium` (installed by `make test`) with every host name unresolvable, so a page passes only
if it works from its own files, as it must on an auditor's machine without internet.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from community_dw.chromium import chromium as find_chromium
from community_dw.chromium import headless


def chromium() -> str:
    binary = find_chromium()
    if binary is None:
        raise RuntimeError("Chromium is not installed: `make test` installs Debian's chromium package")
    return binary


def rendered_dom(page: Path, wait_ms: int = 5000) -> str:
    """The page's DOM after `wait_ms` of (virtual) time, with the network cut off."""
    with tempfile.TemporaryDirectory(prefix="cdw-chromium-") as profile:
        done = subprocess.run(
            headless(profile, f"--virtual-time-budget={wait_ms}", "--dump-dom", page.resolve().as_uri()),
            capture_output=True,
            text=True,
            timeout=120,
        )
    if done.returncode != 0:
        raise RuntimeError(f"chromium failed on {page}: {done.stderr[-2000:]}")
    return done.stdout
