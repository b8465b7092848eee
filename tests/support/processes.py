"""Processes the tests start as a user's terminal would: each its own session, found and killed by it.

    proc = start_session(["make", "airflow"], env, log)   # a session (and process group) of its own
    wait_http(f"http://127.0.0.1:{port}/api/v2/version", proc, log)
    os.killpg(proc.pid, signal.SIGINT)                    # Ctrl-C at that terminal
    assert wait_session_gone(proc.pid, 10)
    kill_session(proc.pid)                                # always, in a finally: nothing outlives a test

A session is followed by its id rather than by process group, because a program may start its
children in groups of their own (`cdw airflow` does) but they stay in the session.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from community_dw_tools.airflow_api import request_json as get_json

__all__ = ["get_json"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_session(argv: list[str], env: dict[str, str], log: Path, cwd: Path | None = None):
    """Start `argv` as the leader of a new session, stdout and stderr to `log`."""
    with log.open("ab") as out:
        return subprocess.Popen(
            argv, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip


def session_pids(sid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.getsid(int(entry)) == sid and not _zombie(int(entry)):
                    pids.append(int(entry))
            except OSError:
                continue
    return pids


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def wait_session_gone(sid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not session_pids(sid):
            return True
        time.sleep(0.1)
    return not session_pids(sid)


def kill_session(sid: int) -> None:
    """SIGKILL every process left in the session (the test's cleanup, whatever happened)."""
    for pid in session_pids(sid):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def wait_http(url: str, process: subprocess.Popen, log: Path, seconds: float = 150) -> None:
    """Wait until `url` answers 200; fail early, with the log's tail, if the process died."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"exited with {process.returncode}:\n{tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(1)
    raise AssertionError(f"{url} did not answer within {seconds:.0f} s:\n{tail(log)}")


def tail(log: Path, lines: int = 60) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
