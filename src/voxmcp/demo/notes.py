"""Notes kept in SQLite (WAL), so they survive a server restart."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from pathlib import Path

from pydantic import BaseModel, Field

from voxmcp.demo.errors import DemoToolError

MAX_NOTE_CHARS = 2000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS notes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    text TEXT NOT NULL,
    created_at TEXT NOT NULL
)
"""


class Note(BaseModel):
    """One stored note."""

    id: int = Field(description="Note number, used to delete it")
    text: str
    created_at: str = Field(description="UTC time the note was added, ISO 8601")


class NoteList(BaseModel):
    """All notes, oldest first."""

    count: int
    notes: list[Note]


def default_db_path() -> Path:
    """~/.local/share/voxmcp/demo-notes.sqlite3 (XDG_DATA_HOME respected)."""
    import os

    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "voxmcp" / "demo-notes.sqlite3"


class NoteStore:
    """A SQLite file of notes, created on first use; one connection guarded by a lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA busy_timeout=3000")
            conn.execute(_SCHEMA)
            self._conn = conn
        return self._conn

    def add(self, text: str) -> Note:
        """Store a note; DemoToolError for empty or overlong text."""
        cleaned = text.strip()
        if not cleaned:
            raise DemoToolError("The note is empty. Tell me what the note should say.")
        if len(cleaned) > MAX_NOTE_CHARS:
            raise DemoToolError(f"That note is too long; keep it under {MAX_NOTE_CHARS} characters.")
        created = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        with self._lock:
            cursor = self._connection().execute(
                "INSERT INTO notes (text, created_at) VALUES (?, ?)", (cleaned, created)
            )
            note_id = cursor.lastrowid
        assert note_id is not None
        return Note(id=note_id, text=cleaned, created_at=created)

    def list(self) -> NoteList:
        """Every note, oldest first."""
        with self._lock:
            rows = self._connection().execute("SELECT id, text, created_at FROM notes ORDER BY id").fetchall()
        notes = [Note(id=row[0], text=row[1], created_at=row[2]) for row in rows]
        return NoteList(count=len(notes), notes=notes)

    def delete(self, note_id: int) -> Note:
        """Remove one note and return it; DemoToolError if there is no such note."""
        with self._lock:
            conn = self._connection()
            row = conn.execute("SELECT id, text, created_at FROM notes WHERE id = ?", (note_id,)).fetchone()
            if row is None:
                raise DemoToolError(f"There is no note number {note_id}. Ask me to list your notes first.")
            conn.execute("DELETE FROM notes WHERE id = ?", (note_id,))
        return Note(id=row[0], text=row[1], created_at=row[2])

    def close(self) -> None:
        """Close the connection (a later call reopens it)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def speak_note_list(notes: NoteList) -> str:
    """'You have 2 notes. Note 1: buy milk. Note 3: call mom.'"""
    if notes.count == 0:
        return "You have no notes."
    noun = "note" if notes.count == 1 else "notes"
    items = " ".join(f"Note {note.id}: {note.text.rstrip('.')}." for note in notes.notes)
    return f"You have {notes.count} {noun}. {items}"
