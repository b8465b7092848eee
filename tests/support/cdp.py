"""Headless Chromium driven over the DevTools protocol: a signed-in page, its DOM after scripts, a screenshot.

    with Browser() as browser:
        browser.set_cookie("http://127.0.0.1:8080", "_token", jwt)
        browser.open("http://127.0.0.1:8080/auditor/", ready="document.querySelectorAll('[data-rendered]').length > 0")
        browser.evaluate("document.title"); browser.screenshot(path)

Every host but 127.0.0.1 (where the test's server listens) is unresolvable, as in support.browser, so
the page must work from the server it came from.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from community_dw.chromium import headless


class Browser:
    def __init__(self, width: int = 1280, height: int = 900) -> None:
        self.size = (width, height)
        self._ids = itertools.count(1)

    def __enter__(self) -> Browser:
        from websockets.sync.client import connect

        # Chromium's helper processes may still write to the profile for a moment after it exits.
        self._profile = tempfile.TemporaryDirectory(prefix="cdw-cdp-", ignore_cleanup_errors=True)
        self._process = subprocess.Popen(
            headless(
                self._profile.name,
                "--remote-debugging-port=0",
                f"--window-size={self.size[0]},{self.size[1]}",
                "about:blank",
                allow="127.0.0.1",
            ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its renderers and helpers in one group, stopped together
        )
        port_file = Path(self._profile.name) / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and len(port_file.read_text().splitlines()) >= 2):
            if time.monotonic() > deadline:
                raise RuntimeError("chromium did not open its DevTools port")
            time.sleep(0.1)
        port, path = port_file.read_text().splitlines()[:2]
        self._socket = connect(f"ws://127.0.0.1:{port}{path}", max_size=None)
        target = self._call("Target.createTarget", url="about:blank")["targetId"]
        self._session = self._call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Network", "Runtime"):
            self.send(f"{domain}.enable")
        return self

    def __exit__(self, *exc: object) -> None:
        self._socket.close()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._process.pid, signal.SIGTERM)
        self._process.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._process.pid, signal.SIGKILL)  # any helper that outlived it
        self._profile.cleanup()

    def _call(self, method: str, session: str | None = None, **params: Any) -> dict:
        message_id = next(self._ids)
        message = {"id": message_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        self._socket.send(json.dumps(message))
        while True:
            reply = json.loads(self._socket.recv(timeout=60))
            if reply.get("id") == message_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def send(self, method: str, **params: Any) -> dict:
        return self._call(method, self._session, **params)

    def set_cookie(self, url: str, name: str, value: str) -> None:
        self.send("Network.setCookie", url=url, name=name, value=value, httpOnly=True, sameSite="Lax")

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def open(self, url: str, ready: str = "true", timeout: float = 30) -> None:
        self.send("Page.navigate", url=url)
        deadline = time.monotonic() + timeout
        while not self.evaluate(f"document.readyState === 'complete' && ({ready})"):
            if time.monotonic() > deadline:
                body = self.evaluate("document.body ? document.body.innerText.slice(0, 2000) : ''")
                raise TimeoutError(f"{url}: not ready after {timeout}s ({ready}); the page says: {body}")
            time.sleep(0.25)

    def screenshot(self, path: Path, full_page: bool = True) -> Path:
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            width, height = self.evaluate(
                "[document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
            )
            params |= {
                "clip": {"x": 0, "y": 0, "width": width, "height": min(height, 6000), "scale": 1},
                "captureBeyondViewport": True,
            }
        data = self.send("Page.captureScreenshot", **params)["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path
