"""Destructive-call confirmation phrasing and decisions."""

from __future__ import annotations

from voxmcp.voice.confirm import ask_confirmation, describe_call

from .scripted_asker import ScriptedAsker


def test_describe_call() -> None:
    assert describe_call("delete_note", {"note_id": 3}) == "delete note 3"
    assert describe_call("deleteNote", {"note_id": 3.0}) == "delete note 3"
    assert describe_call("clear_all", {}) == "clear all"
    assert describe_call("move_file", {"src": "a.txt", "force": True}) == "move file with src a.txt, force yes"
    long = describe_call("post", {"text": "word " * 40})
    assert long.endswith("...") and len(long) < 100


async def test_decisions() -> None:
    assert await ask_confirmation(ScriptedAsker("yes"), "delete note 3") == "yes"
    assert await ask_confirmation(ScriptedAsker("no"), "delete note 3") == "no"
    assert await ask_confirmation(ScriptedAsker("never mind"), "delete note 3") == "cancel"
    assert await ask_confirmation(ScriptedAsker(None), "delete note 3") == "silence"
    twice = ScriptedAsker("pardon", "uh")
    assert await ask_confirmation(twice, "delete note 3") == "silence"
    assert twice.asked == ["Do you want me to delete note 3?", "Sorry, please say yes or no: should I delete note 3?"]
