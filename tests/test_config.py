"""Settings: defaults, TOML, env overrides, ${VAR} interpolation, and errors that name the bad key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from voxmcp.config import DEMO_SERVER_URL, ConfigError, load_settings


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "voxmcp.toml"
    p.write_text(text)
    return p


def test_defaults_are_local_models_and_the_demo_server() -> None:
    s = load_settings(env={}, dotenv=False)
    assert str(s.models.stt) == "local/whisper-tiny.en"
    assert str(s.models.llm) == "local/qwen2.5-coder-0.5b"
    assert str(s.models.tts) == "local/hibari"
    assert {name: cfg.url for name, cfg in s.mcp_servers().items()} == {"demo": DEMO_SERVER_URL}


def test_unknown_key_is_named(tmp_path: Path) -> None:
    p = _write(tmp_path, '[agent]\ninstructionz = "hi"\n')
    with pytest.raises(ConfigError, match=r"agent\.instructionz: unknown key"):
        load_settings(p, env={}, dotenv=False)


def test_unknown_local_model_is_named(tmp_path: Path) -> None:
    p = _write(tmp_path, '[models]\nllm = "local/llama-70b"\n')
    with pytest.raises(ConfigError, match=r"models\.llm.*unknown local model 'llama-70b'"):
        load_settings(p, env={}, dotenv=False)


def test_bad_value_type_is_named(tmp_path: Path) -> None:
    p = _write(tmp_path, '[llm]\nthreads = "many"\n')
    with pytest.raises(ConfigError, match=r"llm\.threads"):
        load_settings(p, env={}, dotenv=False)


def test_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(_write(tmp_path, "[agent\n"), env={}, dotenv=False)
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml", env={}, dotenv=False)


def test_env_overrides_toml(tmp_path: Path) -> None:
    p = _write(tmp_path, '[models]\nllm = "local/qwen2.5-coder-0.5b"\n[llm]\nthreads = 2\n')
    s = load_settings(
        p, env={"VOXMCP_MODELS__LLM": "local/qwen2.5-coder-1.5b", "VOXMCP_LLM__THREADS": "4"}, dotenv=False
    )
    assert s.models.llm.model == "qwen2.5-coder-1.5b"
    assert s.llm.threads == 4


def test_openai_compatible_role_table(tmp_path: Path) -> None:
    p = _write(
        tmp_path,
        '[models.llm]\nprovider = "openai"\nmodel = "llama3.2"\nbase_url = "http://127.0.0.1:11434/v1"\n'
        'api_key = "${OLLAMA_KEY}"\n',
    )
    s = load_settings(p, env={"OLLAMA_KEY": "secret-value"}, dotenv=False)
    assert s.models.llm.provider == "openai"
    assert s.models.llm.api_key is not None and s.models.llm.api_key.get_secret_value() == "secret-value"
    assert "secret-value" not in repr(s)  # secrets never show up in logs/reprs


def test_missing_env_var_names_the_key(tmp_path: Path) -> None:
    p = _write(
        tmp_path,
        '[mcp.servers.remote]\nurl = "https://example.com/mcp"\nheaders = { Authorization = "Bearer ${TOKEN}" }\n',
    )
    with pytest.raises(ConfigError, match=r"mcp\.servers\.remote\.headers\.Authorization: environment variable TOKEN"):
        load_settings(p, env={}, dotenv=False)


def test_servers_from_toml_and_mcp_json(tmp_path: Path) -> None:
    (tmp_path / "mcp.json").write_text(json.dumps({"mcpServers": {"time": {"command": "mcp-server-time"}}}))
    p = _write(tmp_path, '[mcp]\nmcp_json = "mcp.json"\n[mcp.servers.demo]\nurl = "http://127.0.0.1:9999/mcp"\n')
    servers = load_settings(p, env={}, dotenv=False).mcp_servers()
    assert servers["demo"].url == "http://127.0.0.1:9999/mcp"
    assert servers["time"].command == "mcp-server-time"


def test_server_needs_url_or_command(tmp_path: Path) -> None:
    p = _write(tmp_path, "[mcp.servers.broken]\ntimeout_s = 3\n")
    with pytest.raises(ConfigError, match=r"mcp\.servers\.broken"):
        load_settings(p, env={}, dotenv=False)


def test_livekit_env_variables(tmp_path: Path) -> None:
    env = {"LIVEKIT_URL": "ws://127.0.0.1:7880", "LIVEKIT_API_KEY": "devkey", "LIVEKIT_API_SECRET": "secret"}
    s = load_settings(env=env, dotenv=False)
    assert s.livekit.url == "ws://127.0.0.1:7880"
    assert s.livekit.api_secret is not None and s.livekit.api_secret.get_secret_value() == "secret"
