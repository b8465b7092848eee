"""Long-running commands stop within a bound, every process they started with them."""

from __future__ import annotations

import os
import sys
import time

import psutil

from community_dw import processes

# A command that shuts down cleanly on Ctrl-C, like Airflow's components.
POLITE = "import signal, sys, time\nsignal.signal(signal.SIGINT, lambda *_: sys.exit(3))\ntime.sleep(60)"
# One that ignores SIGINT and SIGTERM and leaves a grandchild in a session of its own, doing the same.
STUBBORN = """
import os, signal, subprocess, sys, time
for s in (signal.SIGINT, signal.SIGTERM):
    signal.signal(s, signal.SIG_IGN)
child = subprocess.Popen([sys.executable, "-c", sys.argv[1]], start_new_session=True)
print(child.pid, flush=True)
time.sleep(60)
"""
IGNORING = "import signal, time\nfor s in (signal.SIGINT, signal.SIGTERM): signal.signal(s, signal.SIG_IGN)\ntime.sleep(60)"


def test_a_polite_command_stops_on_the_first_interrupt_with_its_exit_code():
    process = processes.start_group([sys.executable, "-c", POLITE])
    time.sleep(0.5)
    started = time.monotonic()
    assert processes.stop_group(process) == 3
    assert time.monotonic() - started < 1.5


def test_a_stubborn_group_and_its_escaped_grandchild_are_killed_within_the_bound():
    import subprocess

    process = processes.start_group([sys.executable, "-c", STUBBORN, IGNORING], stdout=subprocess.PIPE)
    grandchild = int(process.stdout.readline())
    assert os.getpgid(grandchild) != process.pid  # it left the group
    started = time.monotonic()
    processes.stop_group(process, seconds=3)
    assert time.monotonic() - started < 3 + 1.5
    assert not psutil.pid_exists(process.pid) or psutil.Process(process.pid).status() == psutil.STATUS_ZOMBIE
    assert not psutil.pid_exists(grandchild) or psutil.Process(grandchild).status() == psutil.STATUS_ZOMBIE


def test_commands_find_the_venv_first_on_path_without_an_activated_venv():
    env = processes.venv_env({"PATH": "/usr/bin:/bin"})
    assert env["PATH"].split(os.pathsep)[0] == str(processes.venv_bin())
    assert (processes.venv_bin() / "airflow").exists()
