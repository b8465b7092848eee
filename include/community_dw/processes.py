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
from collections.abc import Iterator
from pathlib import Path

import psutil

# SIGINT's grace, then SIGTERM's, then SIGKILL: Ctrl-C ends it all within 10 s, with room for a loaded
# machine. Not longer: standalone's scheduler may hang on Ctrl-C joining its LocalExecutor workers,
# which ignore SIGINT and SIGTERM (seen with Airflow 3.3.2), so only SIGKILL ends them.
STOP_SECONDS = 7.0
_TERM_SECONDS = 2.0
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def venv_bin() -> Path:
    """The `bin` folder of the Python running this (the project's venv under `make`)."""
    return Path(sys.executable).parent


def venv_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """`env` (default: this process's) with the venv's `bin` first on PATH."""
    env = dict(os.environ if env is None else env)
    env["PATH"] = os.pathsep.join([str(venv_bin()), *filter(None, [env.get("PATH")])])
    return env


@contextlib.contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """`values` in this process's environment for the block only: afterwards each name has its earlier
    value again, or is unset again (an in-process dbt run, a test server's Airflow connections)."""
    previous = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def start_group(argv: list[str], env: dict[str, str] | None = None, **popen) -> subprocess.Popen:
    """Start `argv` as the leader of a new process group (Ctrl-C at a terminal no longer reaches it
    directly: `supervise` forwards it, once, to the whole group).

    Unbuffered: a service's output reaches a pipe or log file as it is printed, so the lines a
    component prints on its way down are not lost with its buffer if it has to be killed (standalone's
    "Shutting down components" went missing that way when its scheduler hung on Ctrl-C).
    """
    return subprocess.Popen(argv, env={**venv_env(env), "PYTHONUNBUFFERED": "1"}, process_group=0, **popen)


def _signal_all(pgid: int, processes: list[psutil.Process], signum: int) -> None:
    if pgid:
        with contextlib.suppress(ProcessLookupError, PermissionError):
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


def stop_groups(
    leaders: list[subprocess.Popen], seconds: float = STOP_SECONDS, interrupt_twice: bool = False
) -> list[int | None]:
    """Stop the process groups `leaders` lead, all at once: SIGINT, then SIGTERM, then SIGKILL, within
    `seconds`. Returns each leader's exit code (None if it could not be reaped).

    `interrupt_twice`: a second SIGINT halfway through SIGINT's grace, the "Ctrl-C again" after which
    Celery workers stop without waiting for their tasks (a warm shutdown of an idle worker takes ~6 s;
    the tasks' messages are acknowledged late, so another worker runs them again).
    """
    family: list[psutil.Process] = []
    for leader in leaders:
        with contextlib.suppress(psutil.Error):
            family += [psutil.Process(leader.pid), *psutil.Process(leader.pid).children(recursive=True)]
    now = time.monotonic()
    deadline = now + seconds
    interrupts = [(signal.SIGINT, deadline - _TERM_SECONDS)]
    if interrupt_twice:
        interrupts = [(signal.SIGINT, (now + deadline - _TERM_SECONDS) / 2), *interrupts]
    for signum, until in (*interrupts, (signal.SIGTERM, deadline), (signal.SIGKILL, deadline + 1.0)):
        family += [c for p in _alive(family) for c in _children(p) if c not in family]
        for leader in leaders:
            _signal_all(leader.pid, [], signum)
        _signal_all(0, _alive(family), signum)
        while time.monotonic() < until:
            for leader in leaders:
                leader.poll()
            if not _alive(family):
                return [leader.wait() for leader in leaders]
            time.sleep(0.1)
    return [leader.poll() for leader in leaders]


def stop_group(process: subprocess.Popen, seconds: float = STOP_SECONDS) -> int | None:
    """Stop the process group `process` leads (see `stop_groups`); the leader's exit code."""
    return stop_groups([process], seconds)[0]


def _children(process: psutil.Process) -> list[psutil.Process]:
    try:
        return process.children(recursive=True)
    except psutil.Error:
        return []


@contextlib.contextmanager
def stop_signals() -> Iterator[list[int]]:
    """Record SIGINT and SIGTERM instead of dying of them, for the block; yields the list they go to.

    Enter it before starting the commands: they then start with SIGINT at its default even where this
    process was started with it ignored (a background job of a script), so Airflow's own Ctrl-C
    handling works in them.
    """
    received: list[int] = []
    previous = {s: signal.signal(s, lambda signum, _frame: received.append(signum)) for s in STOP_SIGNALS}
    try:
        yield received
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def supervise(argv: list[str], env: dict[str, str] | None = None) -> int:
    """Run a long-running command in its own process group until it exits, or until this process gets
    SIGINT or SIGTERM: then stop the whole group within STOP_SECONDS. Returns the exit code."""
    with stop_signals() as received:
        process = start_group(argv, env)
        while process.poll() is None and not received:
            time.sleep(0.2)
        if received:
            code = stop_group(process)
            return 128 + received[0] if code is None else code
        return process.returncode
