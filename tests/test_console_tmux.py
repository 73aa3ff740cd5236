"""`voxmcp console --text` in a real terminal (tmux), read the way a person reads it.

The pane must show the conversation (the greeting, the question, the agent's answer) and no DEBUG/INFO log
lines, with no record printed twice; `--log-file` must get the rest (DEBUG included).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from voxmcp.demo.runner import DemoServerProcess

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (scripts/install_system.sh)"),
]

VOXMCP = Path(sys.executable).with_name("voxmcp")
QUESTION = "What is the weather in Paris?"
LOG_LINE = re.compile(r"^\s*(\d\d:\d\d:\d\d\.\d{3})?\s+(DEBUG|INFO|WARNING|ERROR|CRITICAL)\s+\S")


class Pane:
    """One tmux server of our own (its own socket: a fresh environment, nothing shared with a user's tmux)."""

    def __init__(self, socket: str) -> None:
        self.socket = socket

    def tmux(self, *args: str) -> str:
        done = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=20)
        return done.stdout

    def text(self) -> str:
        """The whole pane with its scrollback, wrapped lines joined."""
        return self.tmux("capture-pane", "-p", "-J", "-S", "-1000", "-t", "console")

    def wait_for(self, what: re.Pattern[str], timeout_s: float) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            text = self.text()
            if what.search(text):
                return text
            time.sleep(0.5)
        raise AssertionError(f"{what.pattern!r} did not appear within {timeout_s:.0f}s; the pane:\n{self.text()}")


@pytest.fixture
def pane(tmp_path: Path) -> Iterator[Pane]:
    p = Pane(f"voxmcp-test-{os.getpid()}-{time.monotonic_ns()}")
    try:
        yield p
    finally:
        p.tmux("send-keys", "-t", "console", "C-c")
        time.sleep(1)
        p.tmux("kill-server")


def test_console_shows_the_conversation_and_no_log_noise(tmp_path: Path, pane: Pane) -> None:
    log_file = tmp_path / "console.log"
    with DemoServerProcess(db_path=tmp_path / "notes.sqlite3", audit_log=tmp_path / "audit.jsonl") as demo:
        config = tmp_path / "voxmcp.toml"
        config.write_text(f'[mcp.servers.demo]\nurl = "{demo.url}"\n')
        env = {k: v for k, v in os.environ.items() if k not in ("VOXMCP_LOG_LEVEL", "LIVEKIT_LOG_LEVEL", "TMUX")}
        env["HF_HUB_OFFLINE"] = "1"
        command = f"{VOXMCP} console --text --config {config} --log-file {log_file}; sleep 60"
        size = ["-x", "200", "-y", "50"]
        subprocess.run(
            ["tmux", "-L", pane.socket, "new-session", "-d", "-s", "console", *size, "-c", str(tmp_path), command],
            env=env,
            check=True,
            timeout=20,
        )
        pane.wait_for(re.compile(r"Type to talk to your agent"), timeout_s=240)
        pane.tmux("send-keys", "-t", "console", QUESTION, "Enter")
        # the agent's reply is printed after the question, then the prompt comes back
        text = pane.wait_for(
            re.compile(re.escape(QUESTION) + r"[\s\S]*● Agent\n\s+\S[\s\S]*Type to talk"), timeout_s=240
        )

    lines = [ln.rstrip() for ln in text.splitlines() if ln.strip()]
    after = lines[next(i for i, ln in enumerate(lines) if ln.strip() == QUESTION) :]
    agent = next(i for i, ln in enumerate(after) if ln.strip() == "● Agent")
    answer = after[agent + 1].strip()
    print("\n[console capture]\n" + "\n".join(lines))
    assert answer and not answer.startswith(("❯", "─")), after

    # the conversation is there once (a DEBUG `conversation_item_added` line would repeat the question),
    # the greeting included (LiveKit's text console prints only the turns of `session.run()`)
    assert sum(QUESTION in ln for ln in lines) == 1, lines
    greeting = [i for i, ln in enumerate(lines) if ln.strip() == "Hi! What can I do for you?"]
    assert len(greeting) == 1 and lines[greeting[0] - 1].strip() == "● Agent", lines
    # no DEBUG/INFO log lines in the terminal, and no record printed twice
    log_lines = [ln.strip() for ln in lines if LOG_LINE.match(ln)]
    assert not [ln for ln in log_lines if re.search(r"\s(DEBUG|INFO)\s", ln)], log_lines
    assert len(log_lines) == len(set(log_lines)), log_lines

    # the rest is in the log file, DEBUG included, each record once
    logged = log_file.read_text()
    assert " DEBUG " in logged and "conversation_item_added" in logged
    assert logged.count(f'"lk.pii.text": "{QUESTION}"') == 1
