"""Start Airflow's long-running commands so they find their own executables and stop within a bound.

`airflow standalone` starts its components as subprocesses by the bare name `airflow`, so the venv's
`bin` must be first on their PATH even when no venv is activated (`venv_env`). Each command runs in its
own process group, so one signal reaches every process it started; `stop_group` sends SIGINT (what
Ctrl-C sends, the signal Airflow shuts down on cleanly), then SIGTERM, then SIGKILL to whatever is left,
the group and every descendant seen, within `STOP_SECONDS` in all.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

STOP_SECONDS = 9.0  # SIGINT's grace, then SIGTERM's, then SIGKILL: Ctrl-C ends it all within 10 s
_TERM_SECONDS = 2.0


def venv_bin() -> Path:
    """The `bin` folder of the Python running this (the project's venv under `make`)."""
    return Path(sys.executable).parent


def venv_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """`env` (default: this process's) with the venv's `bin` first on PATH."""
    env = dict(os.environ if env is None else env)
    env["PATH"] = os.pathsep.join([str(venv_bin()), *filter(None, [env.get("PATH")])])
    return env


def start_group(argv: list[str], env: dict[str, str] | None = None, **popen) -> subprocess.Popen:
    """Start `argv` as the leader of a new process group (Ctrl-C at a terminal no longer reaches it
    directly: `supervise` forwards it, once, to the whole group)."""
    return subprocess.Popen(argv, env=venv_env(env), process_group=0, **popen)


def _signal_all(pgid: int, processes: list[psutil.Process], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signum)
    for process in processes:  # descendants that left the group (a setsid) are signalled by pid
        with contextlib.suppress(psutil.Error):
            process.send_signal(signum)


def _alive(processes: list[psutil.Process]) -> list[psutil.Process]:
    alive = []
    for process in processes:
        with contextlib.suppress(psutil.Error):
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                alive.append(process)
    return alive


def stop_group(process: subprocess.Popen, seconds: float = STOP_SECONDS) -> int | None:
    """Stop the process group `process` leads: SIGINT, then SIGTERM, then SIGKILL, within `seconds`.

    Returns the leader's exit code (None if it had to be killed before it could be reaped).
    """
    try:
        leader = psutil.Process(process.pid)
        family = [leader, *leader.children(recursive=True)]
    except psutil.NoSuchProcess:
        family = []
    deadline = time.monotonic() + seconds
    for signum, until in (
        (signal.SIGINT, deadline - _TERM_SECONDS),
        (signal.SIGTERM, deadline),
        (signal.SIGKILL, deadline + 1.0),
    ):
        family += [c for p in _alive(family) for c in _children(p) if c not in family]
        _signal_all(process.pid, _alive(family), signum)
        while time.monotonic() < until:
            process.poll()
            if not _alive(family):
                return process.wait()
            time.sleep(0.1)
    process.poll()
    return process.returncode


def _children(process: psutil.Process) -> list[psutil.Process]:
    try:
        return process.children(recursive=True)
    except psutil.Error:
        return []


def supervise(argv: list[str], env: dict[str, str] | None = None) -> int:
    """Run a long-running command in its own process group until it exits, or until this process gets
    SIGINT or SIGTERM: then stop the whole group within STOP_SECONDS. Returns the exit code."""
    stop_requested: list[int] = []

    def request_stop(signum, _frame):
        stop_requested.append(signum)

    # Handlers first: the command then starts with SIGINT at its default even where this process was
    # started with it ignored (a background job of a script), so Airflow's own Ctrl-C handling works.
    previous = {s: signal.signal(s, request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
    process = start_group(argv, env)
    try:
        while process.poll() is None and not stop_requested:
            time.sleep(0.2)
        if stop_requested:
            code = stop_group(process)
            return 128 + stop_requested[0] if code is None else code
        return process.returncode
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
