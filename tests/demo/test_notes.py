"""The SQLite note store."""

from pathlib import Path

import pytest

from voxmcp.demo.errors import DemoToolError
from voxmcp.demo.notes import NoteStore, speak_note_list


def test_add_list_delete_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "notes.sqlite3"
    store = NoteStore(path)
    first = store.add("  buy milk ")
    second = store.add("call mom")
    assert (first.id, first.text) == (1, "buy milk")
    assert [note.text for note in store.list().notes] == ["buy milk", "call mom"]
    assert store.delete(first.id).text == "buy milk"
    store.close()

    reopened = NoteStore(path)
    notes = reopened.list()
    assert [(note.id, note.text) for note in notes.notes] == [(second.id, "call mom")]
    assert speak_note_list(notes) == "You have 1 note. Note 2: call mom."
    reopened.close()


def test_database_uses_wal(tmp_path: Path) -> None:
    import sqlite3

    store = NoteStore(tmp_path / "n.sqlite3")
    store.add("x")
    mode = sqlite3.connect(tmp_path / "n.sqlite3").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    store.close()


def test_bad_input_is_explained(tmp_path: Path) -> None:
    store = NoteStore(tmp_path / "n.sqlite3")
    with pytest.raises(DemoToolError, match="note is empty"):
        store.add("   ")
    with pytest.raises(DemoToolError, match="no note number 7"):
        store.delete(7)
    assert speak_note_list(store.list()) == "You have no notes."
    store.close()
