"""`voxmcp` command: the verbs exist, and bad input gets a clear message and a clean exit."""

from __future__ import annotations

import wave
from pathlib import Path

import pytest
from typer.testing import CliRunner

from voxmcp.cli import app

runner = CliRunner()


def test_help_lists_the_verbs() -> None:
    out = runner.invoke(app, ["--help"]).output
    for verb in ("console", "dev", "start", "talk", "models", "mcp", "demo-server"):
        assert verb in out


def test_talk_rejects_a_file_that_is_not_audio(tmp_path: Path) -> None:
    bogus = tmp_path / "question.wav"
    bogus.write_text("this is not audio")
    result = runner.invoke(app, ["talk", "--input", str(bogus)])
    assert result.exit_code == 2
    assert "not a WAV file" in result.output


def test_talk_rejects_silence(tmp_path: Path) -> None:
    silent = tmp_path / "silence.wav"
    with wave.open(str(silent), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\x00\x00" * 16000)
    result = runner.invoke(app, ["talk", "--input", str(silent)])
    assert result.exit_code == 2
    assert "silent" in result.output


def test_talk_reports_a_bad_config(tmp_path: Path) -> None:
    speech = tmp_path / "q.wav"
    with wave.open(str(speech), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\x00\x40\x00\xc0" * 8000)  # loud square wave: passes the silence check
    cfg = tmp_path / "voxmcp.toml"
    cfg.write_text('[models]\nllm = "local/does-not-exist"\n')
    result = runner.invoke(app, ["talk", "--input", str(speech), "--config", str(cfg)])
    assert result.exit_code == 2
    assert "models.llm" in result.output and "unknown local model" in result.output


def test_talk_missing_input_file(tmp_path: Path) -> None:
    result = runner.invoke(app, ["talk", "--input", str(tmp_path / "nope.wav")])
    assert result.exit_code == 2


def test_log_levels_map_onto_livekits_choices() -> None:
    from voxmcp.cli import _livekit_level

    levels = [5, 10, 15, 20, 30, 40, 50]
    assert [_livekit_level(n) for n in levels] == ["trace", "debug", "info", "info", "warn", "error", "critical"]


@pytest.mark.parametrize("verb", ["console", "dev", "start"])
def test_a_bad_log_level_or_log_file_is_one_sentence(
    verb: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Refused before anything starts (no demo server, no model, no LiveKit), with the option or variable named."""
    monkeypatch.delenv("VOXMCP_LOG_LEVEL", raising=False)
    monkeypatch.delenv("LIVEKIT_LOG_LEVEL", raising=False)
    result = runner.invoke(app, [verb, "--log-level", "verbose"])
    assert result.exit_code == 2
    expected = "--log-level='verbose' is not a log level; use one of debug, info, warning, error, critical."
    assert expected in result.output
    missing = tmp_path / "missing" / "voxmcp.log"
    result = runner.invoke(app, [verb, "--log-file", str(missing)])
    assert result.exit_code == 2
    assert f"cannot write the log file {missing}: No such file or directory." in result.output.replace("\n", "")
    monkeypatch.setenv("LIVEKIT_LOG_LEVEL", "loud")  # LiveKit's own variable is honoured, and named
    result = runner.invoke(app, [verb])
    assert result.exit_code == 2 and "LIVEKIT_LOG_LEVEL='loud' is not a log level" in result.output
