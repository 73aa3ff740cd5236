"""Run `voxmcp web` in a thread and drive its page in headless chromium; both bounded in time."""

from __future__ import annotations

import contextlib
import json
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from livekit_servers import free_port

from voxmcp.web.server import WebSettings, create_app


@contextlib.contextmanager
def serve_web(settings: WebSettings, *, startup_timeout_s: float = 10.0) -> Iterator[str]:
    """The page server on a free loopback port; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="voxmcp-web", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + startup_timeout_s
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError(f"voxmcp web did not start on port {port}")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        thread.join(10)


@dataclass
class BrowserRun:
    ok: bool
    error: str | None
    raw: dict[str, Any]

    def agent_lines(self) -> list[str]:
        return [e["text"] for e in self.raw.get("transcript", []) if e.get("who") == "agent"]


def drive_page(
    driver: Path,
    *,
    page_url: str,
    wav: Path,
    expect: str,
    workdir: Path,
    timeout_s: float,
    wait_greeting: bool,
    mic_on_join: bool = False,
) -> BrowserRun:
    """Open the page in chromium with `wav` as the microphone; wait until an agent line matches `expect`."""
    cfg = {
        "pageUrl": page_url,
        "wav": str(wav),
        "expect": expect,
        "timeoutMs": int(timeout_s * 1000),
        "userDataDir": str(workdir / "chromium-profile"),
        "waitGreeting": wait_greeting,
        "micOnJoin": mic_on_join,
        "screenshot": str(workdir / "page.png"),
    }
    cfg_path = workdir / "drive.json"
    cfg_path.write_text(json.dumps(cfg))
    proc = subprocess.run(
        ["node", str(driver), str(cfg_path)],
        cwd=driver.parent,
        capture_output=True,
        text=True,
        timeout=timeout_s + 60,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        return BrowserRun(False, f"driver printed no result (rc={proc.returncode}): {proc.stderr[-2000:]}", {})
    raw = json.loads(lines[-1])
    return BrowserRun(bool(raw.get("ok")), raw.get("error"), raw)
