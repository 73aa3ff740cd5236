"""Append-only JSONL record of every tool call, so tests can check what the server actually received."""

from __future__ import annotations

import datetime as dt
import json
import threading
from pathlib import Path
from typing import Any


class AuditLog:
    """One JSON line per call: {"ts", "tool", "arguments", "ok", "result" | "error"}, flushed at once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)

    def record(self, tool: str, arguments: Any, *, ok: bool, text: str) -> None:
        """Append one entry; `text` is the result when ok, else the error."""
        entry: dict[str, Any] = {
            "ts": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
            "tool": tool,
            "arguments": arguments,
            "ok": ok,
            "result" if ok else "error": text,
        }
        line = json.dumps(entry, ensure_ascii=False, default=str)
        with self._lock, self.path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")
            handle.flush()


def read_audit_log(path: Path) -> list[dict[str, Any]]:
    """All complete entries in the file (an empty list when it does not exist yet)."""
    if not path.exists():
        return []
    entries: list[dict[str, Any]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            entries.append(json.loads(line))
    return entries
