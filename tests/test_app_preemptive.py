"""Preemptive generation: off unless asked for, and never inside a question asked mid-call."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from voxmcp import app
from voxmcp.config import Settings, load_settings
from voxmcp.models.vad import build_silero_vad
from voxmcp.voice.dialog import DialogTask

sys.path.insert(0, str(Path(__file__).parent / "voice"))
from fakes import RecordingTTS, ScriptedLLM, ScriptedSTT


def _settings(preemptive: bool) -> Settings:
    env = {"VOXMCP_VOICE__PREEMPTIVE_GENERATION": str(preemptive).lower(), "VOXMCP_MCP__USE_DEMO_SERVER": "false"}
    return load_settings(env=env, dotenv=False)


def _models() -> Any:
    return SimpleNamespace(
        stt=ScriptedSTT(), vad=build_silero_vad(), llm=ScriptedLLM(replies=[]), tts=RecordingTTS(), turn_detector=None
    )


def test_the_session_generates_preemptively_only_when_asked() -> None:
    async def main() -> None:
        assert not app.build_session(_models(), _settings(False)).options.preemptive_generation["enabled"]
        assert app.build_session(_models(), _settings(True)).options.preemptive_generation["enabled"]

    asyncio.run(main())


def test_a_question_asked_mid_call_never_answers_from_a_preemptive_transcript() -> None:
    """LiveKit merges an agent's turn handling over the session's: a DialogTask's "off" wins, so "yes... no, wait"
    is never taken as "yes" before the user's turn ends."""

    async def script(ask: Any) -> str:
        return "unused"

    async def main() -> None:
        task: DialogTask[str] = DialogTask(script)
        session = app.build_session(_models(), _settings(True))
        merged = {**session.options.preemptive_generation, **task._turn_handling["preemptive_generation"]}
        assert merged["enabled"] is False

    asyncio.run(main())
