"""End of turn: the session uses LiveKit's local end-of-turn model when asked and it loads, else VAD silence."""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from livekit.agents import inference

from voxmcp import app
from voxmcp.config import Settings, load_settings
from voxmcp.models import providers
from voxmcp.models.vad import build_silero_vad

sys.path.insert(0, str(Path(__file__).parent / "voice"))
from fakes import RecordingTTS, ScriptedLLM, ScriptedSTT

FIXTURES = Path(__file__).parent / "models" / "fixtures"


def _settings(mode: str) -> Settings:
    env = {"VOXMCP_VOICE__TURN_DETECTION": mode, "VOXMCP_MCP__USE_DEMO_SERVER": "false"}
    return load_settings(env=env, dotenv=False)


def _models(detector: Any = None) -> Any:
    return SimpleNamespace(
        stt=ScriptedSTT(),
        vad=build_silero_vad(),
        llm=ScriptedLLM(replies=[]),
        tts=RecordingTTS(),
        turn_detector=detector,
    )


def test_the_session_ends_turns_by_the_mode_asked_for() -> None:
    detector = inference.TurnDetector(version="v1-mini")  # builds no model: that happens per stream
    vad_settings, model_settings = _settings("vad"), _settings("model")
    assert app.session_turn_detection(_models(), vad_settings) == ("vad", {"min_delay": 0.6, "max_delay": 3.0})
    assert app.session_turn_detection(_models(detector), vad_settings)[0] == "vad"  # loaded, but not asked for
    assert app.session_turn_detection(_models(detector), model_settings) == (
        detector,
        {"min_delay": model_settings.voice.model_min_delay_s, "max_delay": model_settings.voice.model_max_delay_s},
    )
    # asked for, but it could not load: VAD silence, as if never asked
    assert app.session_turn_detection(_models(None), model_settings)[0] == "vad"

    async def main() -> None:
        with_model = app.build_session(_models(detector), model_settings)
        without = app.build_session(_models(None), model_settings)
        assert with_model.turn_detection is detector and without.turn_detection == "vad"

    asyncio.run(main())


def _fake_providers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(providers, "build_vad", lambda *a, **k: build_silero_vad())
    monkeypatch.setattr(providers, "build_stt", lambda *a, **k: ScriptedSTT())
    monkeypatch.setattr(providers, "build_llm", lambda *a, **k: ScriptedLLM(replies=[]))
    monkeypatch.setattr(providers, "build_tts", lambda *a, **k: RecordingTTS())


def test_models_load_the_turn_detector_only_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_providers(monkeypatch)
    loaded = inference.TurnDetector(version="v1-mini")
    monkeypatch.setattr(app, "load_turn_detector", lambda: loaded)
    assert app.load_models(_settings("vad")).turn_detector is None
    models = app.load_models(_settings("model"))
    assert models.turn_detector is loaded and "turn_detector" in models.load_s


@pytest.mark.parametrize("broken", ["init_eot", "predict"])
def test_a_model_that_cannot_run_is_a_warning_and_vad_turns(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, broken: str
) -> None:
    from livekit import local_inference

    def fail(*_a: object) -> None:
        raise RuntimeError("weights are corrupt")

    if broken == "init_eot":
        monkeypatch.setattr(local_inference, "init_eot", fail)
    else:
        monkeypatch.setattr(local_inference, "init_eot", lambda: None)

        class Broken:
            def __enter__(self) -> Broken:
                return self

            def __exit__(self, *_exc: object) -> None:
                return None

            predict = staticmethod(fail)

        monkeypatch.setattr(local_inference, "EOT", Broken)
    _fake_providers(monkeypatch)
    with caplog.at_level(logging.WARNING, logger="voxmcp.app"):
        models = app.load_models(_settings("model"))
    assert models.turn_detector is None
    [record] = [r for r in caplog.records if r.name == "voxmcp.app"]
    assert "the end-of-turn model can't run" in record.getMessage()
    assert "weights are corrupt" in record.getMessage() and "VAD silence" in record.getMessage()

    async def main() -> None:
        assert app.build_session(models, _settings("model")).turn_detection == "vad"

    asyncio.run(main())


@pytest.mark.e2e
def test_the_end_of_turn_model_loads_and_predicts_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Its weights are inside the livekit-local-inference wheel: no download, no socket, no API key."""
    from voxmcp.audio.wav import read_wav

    def no_network(*_a: object) -> None:
        raise OSError("no network in this test")

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for name in ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET", "LIVEKIT_INFERENCE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    detector = app.load_turn_detector()
    assert detector is not None and detector.model == "turn-detector-v1-mini"
    speech = read_wav(FIXTURES / "espeak_what_notes.wav", sample_rate=16000)

    async def main() -> tuple[float, float]:
        stream = detector.stream()
        for frame in speech.frames(20):
            stream.push_audio(frame)
        await asyncio.sleep(0.2)  # the stream hands the frames to the model's buffer in a task
        event = await asyncio.wait_for(stream.predict(), timeout=10)
        await stream.aclose()
        return event.end_of_turn_probability, event.inference_duration or 0.0

    probability, seconds = asyncio.run(main())
    assert 0.0 < probability < 1.0 and np.isfinite(probability)
    assert seconds < 1.0  # LiveKit waits 1 s for a prediction, then commits without one
