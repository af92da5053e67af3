"""A minimal Chrome DevTools Protocol client over Chromium's --remote-debugging-pipe (standard library only).

Why a pipe and no library: the protocol is JSON messages separated by NUL bytes on file descriptors 3
(commands) and 4 (replies and events); that is all these tests need, with no websocket package, no
port on localhost and nothing to download (playwright would fetch its own browser build).

    with Chromium.launch(profile_dir) as browser:
        page = browser.open_page()
        report = page.load(Path("report.html").as_uri())      # console errors, failed requests
        page.evaluate("document.title")
        page.screenshot(Path("shot.png"))

Used by tests/browser/ and meant for any test of the harness's HTML pages (the cohort index.html too).
"""
from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
         "--disable-default-apps", "--mute-audio", "--hide-scrollbars", "--remote-debugging-pipe")


def find_chromium() -> str | None:
    configured = os.environ.get("HARNESS_CHROMIUM")
    if configured:
        return configured if Path(configured).is_file() else None
    return next((found for found in map(shutil.which, CANDIDATES) if found), None)


class BrowserError(RuntimeError):
    pass


_MOVE_FDS = """\
import fcntl, os, sys
given = int(sys.argv[1]), int(sys.argv[2])
commands, replies = (fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in given)   # clear of 3 and 4 first
for fd in given:
    os.close(fd)
os.dup2(commands, 3)
os.dup2(replies, 4)
os.close(commands)
os.close(replies)
os.execv(sys.argv[3], sys.argv[3:])
"""




@dataclass
class LoadReport:
    console_errors: list = field(default_factory=list)       # console.error calls and uncaught exceptions
    log_errors: list = field(default_factory=list)           # the browser's own log (failed resources ...)
    failed_requests: list = field(default_factory=list)      # Network.loadingFailed
    requests: list = field(default_factory=list)             # every URL the page asked for


class Chromium:
    def __init__(self, process: subprocess.Popen, commands: int, replies: int):
        self.process, self._commands, self._replies = process, commands, replies
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []

    @classmethod
    def launch(cls, profile_dir: Path, executable: str | None = None, timeout: float = 30.0) -> "Chromium":
        executable = executable or find_chromium()
        if not executable:
            raise BrowserError("no Chromium found")
        command_read, command_write = os.pipe()
        reply_read, reply_write = os.pipe()
        # Chromium reads fd 3 and writes fd 4: a small Python step moves our pipe ends there, then execs it.
        process = subprocess.Popen([sys.executable, "-c", _MOVE_FDS, str(command_read), str(reply_write), executable,
                                    *FLAGS, f"--user-data-dir={profile_dir}", "about:blank"],
                                   pass_fds=(command_read, reply_write), stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        os.close(command_read)
        os.close(reply_write)
        browser = cls(process, command_write, reply_read)
        browser.send("Browser.getVersion", timeout=timeout)
        return browser

    def __enter__(self) -> "Chromium":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=5)
        except (BrowserError, OSError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, 9)
            self.process.wait(timeout=10)
        for fd in (self._commands, self._replies):
            try:
                os.close(fd)
            except OSError:
                pass

    # --- the protocol ------------------------------------------------------------------------------------
    def send(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 30.0):
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def _read(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BrowserError("Chromium did not answer in time")
            ready, _, _ = select.select([self._replies], [], [], remaining)
            if ready:
                chunk = os.read(self._replies, 1 << 20)
                if not chunk:
                    raise BrowserError("Chromium closed the DevTools pipe")
                self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(message)

    def wait_for(self, method: str, session: str, timeout: float = 30.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            for index, event in enumerate(self.events):
                if event.get("method") == method and event.get("sessionId") == session:
                    return self.events.pop(index)
            self.events.append(self._read(deadline))

    def open_page(self, width: int = 1200, height: int = 900) -> "Page":
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable", session=session)
        self.send("Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 1,
                                                         "mobile": False}, session=session)
        return Page(self, session, width)


class Page:
    def __init__(self, browser: Chromium, session: str, width: int):
        self.browser, self.session, self.width = browser, session, width

    def load(self, url: str, timeout: float = 30.0) -> LoadReport:
        self.browser.events = [event for event in self.browser.events if event.get("sessionId") != self.session]
        self.browser.send("Page.navigate", {"url": url}, session=self.session)
        self.browser.wait_for("Page.loadEventFired", self.session, timeout)
        self.evaluate("new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
        report = LoadReport()
        for event in self.browser.events:
            if event.get("sessionId") != self.session:
                continue
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                report.console_errors.append(" ".join(str(arg.get("value", arg.get("description", "")))
                                                      for arg in params.get("args", [])))
            elif method == "Runtime.exceptionThrown":
                report.console_errors.append(params.get("exceptionDetails", {}).get("text", "exception"))
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                report.log_errors.append(params["entry"].get("text", ""))
            elif method == "Network.loadingFailed":
                report.failed_requests.append(params.get("errorText", ""))
            elif method == "Network.requestWillBeSent":
                report.requests.append(params.get("request", {}).get("url", ""))
        return report

    def evaluate(self, expression: str):
        result = self.browser.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                        "awaitPromise": True}, session=self.session)
        if "exceptionDetails" in result:
            raise BrowserError(f"script failed: {result['exceptionDetails'].get('text')}: "
                               f"{result['exceptionDetails'].get('exception', {}).get('description', '')}")
        return result.get("result", {}).get("value")

    def screenshot(self, path: Path) -> Path:
        """The whole page (not just the viewport) as a PNG file."""
        height = int(self.evaluate("Math.ceil(document.documentElement.scrollHeight)") or 900)
        shot = self.browser.send("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": self.width, "height": min(height, 16000), "scale": 1}},
            session=self.session, timeout=60)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))
        return path
