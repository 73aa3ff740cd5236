"""Dialogs in `voxmcp talk`: one recording holds the request, a pause, and the answer to the agent's question.

The agent asks (a confirmation before a destructive tool, a server's elicitation form); the rest of the recording,
after the pause, is the user's answer. Asserted on the server's side (what ran, what the form sent) and on the
conversation talk reports (the question was said, the answer heard).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from voxmcp.audio.wav import MonoAudio
from voxmcp.demo.notes import NoteStore
from voxmcp.demo.runner import DemoServerProcess, free_port
from voxmcp.voice.confirm import DECLINED_RESULT

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


def _exchange(*parts: MonoAudio, pause_s: float = 1.5) -> MonoAudio:
    """The user's side of an exchange: each utterance, then a pause in which the agent speaks."""
    rate = parts[0].sample_rate
    gap = np.zeros(int(pause_s * rate), np.int16)
    samples = np.concatenate([x for p in parts for x in (p.samples, gap)][:-1])
    return MonoAudio(samples=samples, sample_rate=rate)


def _new_note(server: DemoServerProcess, text: str) -> int:
    store = NoteStore(server.db_path)
    try:
        return store.add(text).id
    finally:
        store.close()


def _note_ids(server: DemoServerProcess) -> list[int]:
    store = NoteStore(server.db_path)
    try:
        return [n.id for n in store.list().notes]
    finally:
        store.close()


def _said(result: Any, who: str, fragment: str) -> bool:
    return any(w == who and fragment.lower() in t.lower() for w, t in result.conversation)


def test_confirmed_delete_runs_once(talk, demo_server, speak, tmp_path) -> None:
    note = _new_note(demo_server, "water the plants")
    before = len(demo_server.calls())
    audio = _exchange(speak(f"Delete note {note}."), speak("Yes."))
    result = talk(demo_server.url, audio, tmp_path / "a.wav")
    calls = demo_server.calls()[before:]
    assert [(c["tool"], c["arguments"], c["ok"]) for c in calls] == [("delete_note", {"note_id": note}, True)]
    assert note not in _note_ids(demo_server)
    assert _said(result, "agent", f"Do you want me to delete note {note}?"), result.conversation
    assert _said(result, "you", "yes"), result.conversation
    assert "Deleted note" in result.agent_text, result.conversation
    assert not result.errors, result.errors


def test_declined_delete_does_nothing(talk, demo_server, speak, tmp_path) -> None:
    note = _new_note(demo_server, "call the plumber")
    before = len(demo_server.calls())
    audio = _exchange(speak(f"Delete note {note}."), speak("No."))
    result = talk(demo_server.url, audio, tmp_path / "a.wav")
    assert demo_server.calls()[before:] == []  # the server never saw the call
    assert note in _note_ids(demo_server)
    assert _said(result, "agent", f"Do you want me to delete note {note}?"), result.conversation
    assert [(c.name, c.output) for c in result.tool_calls] == [("delete_note", DECLINED_RESULT)]
    assert not result.errors, result.errors


@pytest.fixture(scope="module")
def booking_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    log = tmp_path_factory.mktemp("booking") / "elicited.jsonl"
    port = free_port()
    script = Path(__file__).with_name("booking_server.py")
    proc = subprocess.Popen(
        [sys.executable, str(script), "--port", str(port), "--log", str(log)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(url, timeout=0.5)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield url, log
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_elicitation_is_answered_from_the_recording(models, booking_server, speak, tmp_path) -> None:
    import asyncio

    from voxmcp.config import load_settings
    from voxmcp.talk import run_talk

    url, log = booking_server
    # the initialize handshake: elicitation needs the session's back-channel, which the stateless revision lacks
    env = {"VOXMCP_MCP__SERVERS": json.dumps({"booking": {"url": url, "protocol": "legacy"}})}
    settings = load_settings(env=env, dotenv=False)
    audio = _exchange(speak("Please book a table."), speak("Six guests, on the terrace."))
    result = asyncio.run(run_talk(settings, models, audio, output_wav=tmp_path / "a.wav", timeout_s=120))
    elicited = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    assert elicited == [{"action": "accept", "content": {"guests": 6, "seating": "terrace"}}], result.conversation
    assert _said(result, "agent", "How many guests?"), result.conversation
    assert _said(result, "you", "six"), result.conversation
    assert [c.output for c in result.tool_calls] == ["Booked a table for 6 guests, terrace."], result.conversation
    assert not result.errors, result.errors
