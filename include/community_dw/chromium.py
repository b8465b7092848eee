"""Headless Chromium, offline: how the package (the auditor's PDF report) and the page tests start it.

Debian's `chromium` (installed by `make test`). Every host name is unresolvable unless `allow` names
it, so a page passes only if it works from its own files, as it must on an auditor's machine.
"""

from __future__ import annotations

import shutil


def chromium() -> str | None:
    """The Chromium binary on PATH, or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def headless(profile: str, *arguments: str, allow: str | None = None) -> list[str]:
    """The command line of a headless, offline Chromium with its own profile folder."""
    binary = chromium()
    if binary is None:
        raise RuntimeError(
            "Chromium is not installed (Debian: apt-get install chromium; `make test` does it)"
        )
    rules = "MAP * ~NOTFOUND" + (f", EXCLUDE {allow}" if allow else "")
    return [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        f"--user-data-dir={profile}",
        f"--host-resolver-rules={rules}",
        *arguments,
    ]
