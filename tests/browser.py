"""A real headless Chromium, driven over the DevTools protocol, for tests that look at a page
as a person would: load it, read what it shows, click, and hear every console error.

The protocol runs over a pipe (``--remote-debugging-pipe``: commands on the browser's fd 3,
replies on its fd 4, each message JSON ended by a NUL byte), so nothing listens on a port and
no package beyond the standard library is needed. One browser serves a whole test session.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import tempfile
from pathlib import Path

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--remote-debugging-pipe",
)
#: no reply within this many seconds means the browser is stuck: fail instead of hanging
PATIENCE = 60


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


class BrowserError(RuntimeError):
    pass


class Browser:
    def __init__(self, executable: str):
        self.profile = tempfile.mkdtemp(prefix="archcalc-chromium-")
        # the shell hands our stdin to the browser as fd 3 and our stdout as fd 4
        command = " ".join([executable, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"])
        self.process = subprocess.Popen(
            ["sh", "-c", f"exec {command} 3<&0 4>&1 0</dev/null 1>/dev/null"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.buffer = b""
        self.next_id = 0
        self.events: list[dict] = []
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.command(f"{domain}.enable")

    # --- the protocol ------------------------------------------------------------------------
    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self.process.stdin.write(json.dumps(message).encode() + b"\0")
        self.process.stdin.flush()
        while True:
            reply = self._read()
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def command(self, method: str, params: dict | None = None) -> dict:
        return self.send(method, params, self.session)

    def _read(self) -> dict:
        while b"\0" not in self.buffer:
            ready, _, _ = select.select([self.process.stdout], [], [], PATIENCE)
            if not ready:
                raise BrowserError(f"no word from the browser in {PATIENCE} s")
            chunk = os.read(self.process.stdout.fileno(), 1 << 20)
            if not chunk:
                raise BrowserError("the browser closed the pipe")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def wait_for(self, method: str) -> dict:
        while True:
            for index, event in enumerate(self.events):
                if event.get("method") == method:
                    return self.events.pop(index)
            self.events.append(self._read())

    # --- what a test does ------------------------------------------------------------------
    def open(self, path: Path) -> list[dict]:
        """Load a file and return the events it caused (console, log, network requests)."""
        self.events.clear()
        self.command("Page.navigate", {"url": path.resolve().as_uri()})
        self.wait_for("Page.loadEventFired")
        self.evaluate("0")  # drain the events queued before the load finished
        return list(self.events)

    def evaluate(self, expression: str):
        result = self.command("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression}: {result['exceptionDetails'].get('exception', {}).get('description')}")
        return result["result"].get("value")

    def screenshot(self, path: Path) -> None:
        import base64

        path.write_bytes(base64.b64decode(self.command("Page.captureScreenshot", {"captureBeyondViewport": True})["data"]))

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except (BrowserError, OSError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.profile, ignore_errors=True)


def problems(events: list[dict]) -> list[str]:
    """Console errors and warnings, uncaught exceptions and error log entries, one line each."""
    out = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "warning", "assert"):
            out.append("console: " + " ".join(str(a.get("value", a.get("description"))) for a in params.get("args", [])))
        elif method == "Runtime.exceptionThrown":
            out.append("exception: " + params.get("exceptionDetails", {}).get("exception", {}).get("description", "?"))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") in ("error", "warning"):
            out.append("log: " + params["entry"].get("text", ""))
    return out


def requests(events: list[dict]) -> list[str]:
    """Every URL the page asked for (a self-contained page asks only for itself)."""
    return [e["params"]["request"]["url"] for e in events if e.get("method") == "Network.requestWillBeSent"]
