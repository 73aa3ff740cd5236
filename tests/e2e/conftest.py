"""Shared fixtures for whole-pipeline tests: models loaded once, a demo MCP server with an audit log, a user voice."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from voxmcp.app import Models, load_models
from voxmcp.audio.wav import MonoAudio, read_wav
from voxmcp.config import Settings, load_settings
from voxmcp.demo.runner import DemoServerProcess


@pytest.fixture(scope="session")
def models() -> Models:
    return load_models(load_settings(env={}, dotenv=False))


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServerProcess]:
    d = tmp_path_factory.mktemp("demo")
    with DemoServerProcess(db_path=d / "notes.sqlite3", audit_log=d / "audit.jsonl") as server:
        yield server


def settings_for(url: str) -> Settings:
    env = {"VOXMCP_MCP__SERVERS": f'{{"demo": {{"url": "{url}"}}}}'}
    return load_settings(env=env, dotenv=False)


@pytest.fixture(scope="session")
def talk(models: Models) -> object:
    """Run one spoken request through the pipeline against the MCP server at `url`."""
    import asyncio

    from voxmcp.talk import run_talk

    def _talk(url: str, audio: MonoAudio, out: Path) -> object:
        return asyncio.run(run_talk(settings_for(url), models, audio, output_wav=out, timeout_s=120))

    return _talk


@pytest.fixture(scope="session")
def speak(tmp_path_factory: pytest.TempPathFactory) -> object:
    """Synthesize the user's words with espeak-ng (not the agent's hibari voice)."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (make test installs it)")
    d = tmp_path_factory.mktemp("user-voice")

    def _speak(text: str) -> MonoAudio:
        path = d / (re.sub(r"[^a-z0-9]+", "_", text.lower())[:60] + ".wav")
        subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(path), text], check=True)
        return read_wav(path, sample_rate=16000)

    return _speak


@pytest.fixture(scope="session")
def transcribe() -> object:
    """Transcribe the agent's audio back to text with Whisper (independent of the agent's STT instance)."""
    from faster_whisper import WhisperModel

    from voxmcp.models.weights import resolve

    path = resolve("whisper-tiny.en", progress=False)
    model = WhisperModel(str(path), device="cpu", compute_type="int8", cpu_threads=2)

    def _transcribe(wav: Path) -> str:
        segments, _ = model.transcribe(str(wav), language="en", beam_size=5)
        return " ".join(s.text.strip() for s in segments)

    return _transcribe
