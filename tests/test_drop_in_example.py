"""examples/livekit_drop_in.py, run the way a person runs it: `python examples/livekit_drop_in.py console --text`
in a terminal (a pseudo-terminal here: LiveKit's text console reads keys from a TTY), with a voxmcp.toml that points
at the demo server. The question is typed; the tool call is asserted on the server's audit log and the answer in
the console's transcript."""

from __future__ import annotations

import os
import re
import select
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from voxmcp.demo.runner import DemoServerProcess

pytestmark = pytest.mark.e2e

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "livekit_drop_in.py"
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class PtyConsole:
    """A process on a pseudo-terminal: type into it, read what it shows (ANSI codes stripped)."""

    def __init__(self, argv: list[str], cwd: Path, env: dict[str, str]) -> None:
        import pty

        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: become the example
            os.chdir(cwd)
            os.execve(argv[0], argv, env)
        self.raw = b""

    @property
    def text(self) -> str:
        return _ANSI.sub("", self.raw.decode(errors="replace")).replace("\r", "")

    def read_until(self, pattern: str, timeout_s: float, *, tail: int | None = None) -> re.Match[str] | None:
        """Read output until `pattern` (a regex) appears in it (in its last `tail` characters) or `timeout_s`
        passes."""
        deadline = time.monotonic() + timeout_s
        while (found := re.search(pattern, self.text[-tail:] if tail else self.text)) is None:
            if time.monotonic() > deadline:
                return None
            ready, _, _ = select.select([self.fd], [], [], 0.2)
            if ready:
                try:
                    self.raw += os.read(self.fd, 65536)
                except OSError:  # the process ended
                    return None
        return found

    def type(self, text: str) -> None:
        """Type like a person: one key at a time, each once the prompt shows the one before. LiveKit's prompt
        reads a key per read, so keys that arrive together while it is busy would be dropped."""
        for i, char in enumerate(text):
            for _attempt in range(3):
                os.write(self.fd, char.encode())
                if self.read_until("❯ " + re.escape(text[: i + 1]) + "█", 10, tail=4000):
                    break
            else:
                raise AssertionError(f"the console did not take {text[: i + 1]!r}: {self.text[-2000:]}")
        os.write(self.fd, b"\r")

    def close(self) -> None:
        """Ctrl-C like a person, then make sure the whole process group (the job processes too) is gone."""
        for sig, wait_s in ((signal.SIGINT, 10.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self.pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait_s
            while time.monotonic() < deadline:
                if os.waitpid(self.pid, os.WNOHANG) != (0, 0):
                    os.close(self.fd)
                    return
                self.read_until(r"(?!)", 0.2)
        os.close(self.fd)


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[DemoServerProcess]:
    with DemoServerProcess(db_path=tmp_path / "notes.sqlite3", audit_log=tmp_path / "audit.jsonl") as server:
        yield server


def test_the_stock_agent_with_voxmcp_answers_from_the_mcp_server(demo: DemoServerProcess, tmp_path: Path) -> None:
    (tmp_path / "voxmcp.toml").write_text(f'[mcp.servers.demo]\nurl = "{demo.url}"\n')
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "140", "LINES": "50", "TERM": "xterm"}
    argv = [sys.executable, str(EXAMPLE), "console", "--text", "--log-level", "WARN"]
    console = PtyConsole(argv, tmp_path, env)
    try:
        assert console.read_until("Type to talk", 180), console.text[-3000:]
        console.type("What is the weather in Tokyo?")
        answer = console.read_until(r"● Agent\s+([^\n]*degrees[^\n]*)", 240)
        assert answer is not None, console.text[-3000:]
    finally:
        console.close()
    calls = [call for call in demo.calls() if call["tool"] == "get_weather"]
    assert len(calls) == 1 and calls[0]["arguments"]["city"].lower() == "tokyo" and calls[0]["ok"], demo.calls()
    degrees = re.search(r"(\d+) degrees", calls[0]["result"])
    assert degrees is not None and f"{degrees.group(1)} degrees" in answer.group(1)  # the answer is the tool's
    assert "Traceback" not in console.text
