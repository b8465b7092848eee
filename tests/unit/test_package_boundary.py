"""The runtime package stands alone: importing all of `community_dw` pulls in neither the tooling
package (`community_dw_tools`) nor Faker, so the runtime installs without the `tools` extra."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import community_dw

TOOLING = ("community_dw_tools", "faker")

_PROBE = r"""
import importlib, json, pkgutil, sys
import community_dw
names = [m.name for m in pkgutil.walk_packages(community_dw.__path__, "community_dw.")]
for name in names:
    importlib.import_module(name)
print(json.dumps({"modules": names, "loaded": sorted({m.split(".")[0] for m in sys.modules})}))
"""


def test_every_runtime_module_imports_without_the_tooling():
    probe = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=300)
    assert probe.returncode == 0, f"importing community_dw failed:\n{probe.stderr[-3000:]}"
    report = json.loads(probe.stdout.strip().splitlines()[-1])
    expected = {m.name for m in pkgutil.walk_packages(community_dw.__path__, "community_dw.")}
    assert set(report["modules"]) == expected and "community_dw.cli" in expected
    assert not set(TOOLING) & set(report["loaded"]), (
        f"runtime imports tooling: {set(TOOLING) & set(report['loaded'])}"
    )
