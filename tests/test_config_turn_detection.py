"""`[voice] turn_detection`: "vad" by default, "model" with its two delays, and the combinations LiveKit refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from voxmcp.config import ConfigError, VoiceSettings, load_settings


def _load(tmp_path: Path, voice: str) -> VoiceSettings:
    p = tmp_path / "voxmcp.toml"
    p.write_text(f"[voice]\n{voice}\n")
    return load_settings(p, env={}, dotenv=False).voice


def test_vad_is_the_default_and_model_mode_has_its_own_delays(tmp_path: Path) -> None:
    v = load_settings(env={}, dotenv=False).voice
    assert (v.turn_detection, v.endpointing_min_s) == ("vad", 0.6)
    assert v.model_min_delay_s <= v.endpointing_min_s < v.model_max_delay_s  # later when the sentence goes on
    m = _load(tmp_path, 'turn_detection = "model"\nmodel_min_delay_s = 0.3\nmodel_max_delay_s = 2.5')
    assert (m.turn_detection, m.model_min_delay_s, m.model_max_delay_s) == ("model", 0.3, 2.5)
    env = load_settings(env={"VOXMCP_VOICE__TURN_DETECTION": "model"}, dotenv=False).voice
    assert env.turn_detection == "model"


@pytest.mark.parametrize(
    ("voice", "message"),
    [
        ('turn_detection = "eou"', "voice.turn_detection: Input should be 'vad' or 'model'"),
        (
            'turn_detection = "model"\nmin_silence_s = 0.2',
            'voice: turn_detection = "model" needs min_silence_s >= 0.25',
        ),
        (
            'turn_detection = "model"\nmodel_min_delay_s = 1.5\nmodel_max_delay_s = 1.0',
            "voice: model_max_delay_s must be at least model_min_delay_s",
        ),
        ("model_max_delay_s = -1", "voice.model_max_delay_s: Input should be greater than or equal to 0"),
    ],
)
def test_bad_turn_detection_settings_are_named(tmp_path: Path, voice: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, voice)
    assert str(info.value) == f"{tmp_path / 'voxmcp.toml'}: {message}"


def test_vad_mode_keeps_a_short_vad_silence(tmp_path: Path) -> None:
    assert _load(tmp_path, "min_silence_s = 0.2").min_silence_s == 0.2
