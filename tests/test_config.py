"""Settings: defaults, TOML, env overrides, ${VAR} interpolation, and errors that name the bad key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voxmcp.config import (
    DEMO_SERVER_URL,
    ConfigError,
    dotenv_files,
    load_dotenv_files,
    load_settings,
    settings_from_data,
)
from voxmcp.mcp.config import MissingEnvironmentVariable


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
    with pytest.raises(ConfigError) as info:
        load_settings(p, env={}, dotenv=False)
    assert str(info.value) == f"{p}: agent.instructionz: unknown key"


def test_unknown_local_model_is_named(tmp_path: Path) -> None:
    p = _write(tmp_path, '[models]\nllm = "local/llama-70b"\n')
    with pytest.raises(ConfigError, match=r"models\.llm.*unknown local model 'llama-70b'"):
        load_settings(p, env={}, dotenv=False)


def test_bad_value_type_is_named(tmp_path: Path) -> None:
    p = _write(tmp_path, '[llm]\nthreads = "many"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(p, env={}, dotenv=False)
    assert str(info.value) == f"{p}: llm.threads: Input should be a valid integer, unable to parse string as an integer"


def test_bad_env_override_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(_write(tmp_path, ""), env={"VOXMCP_LLM__THREADS": "lots"}, dotenv=False)
    assert "llm.threads (from VOXMCP_LLM__THREADS): Input should be a valid integer" in str(info.value)


def test_invalid_toml_missing_file_and_bad_utf8(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"voxmcp\.toml: not valid TOML: "):
        load_settings(_write(tmp_path, "[agent\n"), env={}, dotenv=False)
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path / "nope.toml", env={}, dotenv=False)
    assert str(info.value) == f"{tmp_path / 'nope.toml'}: no such file"
    bad = tmp_path / "latin1.toml"
    bad.write_bytes(b'[agent]\ngreeting_text = "caf\xe9"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(bad, env={}, dotenv=False)
    assert str(info.value) == f"{bad}: not UTF-8 text (byte 0xe9 on line 2); save it as UTF-8"
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path, env={}, dotenv=False)
    assert str(info.value) == f"{tmp_path}: is a directory, not a TOML file"


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
    p = _write(tmp_path, '[models.llm]\nprovider = "openai"\nmodel = "m"\napi_key = "${OLLAMA_KEY}"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(p, env={}, dotenv=False)
    assert str(info.value) == (
        f"{p}: models.llm.api_key: environment variable OLLAMA_KEY is not set; set it, or add it to .env "
        "(or write ${OLLAMA_KEY:-default})"
    )


def test_unset_variable_in_one_server_fails_that_server_only(tmp_path: Path) -> None:
    p = _write(
        tmp_path,
        '[mcp.servers.remote]\nurl = "https://example.com/mcp"\nheaders = { Authorization = "Bearer ${TOKEN}" }\n'
        '[mcp.servers.local]\ncommand = "${TOOL_BIN}/server"\ncwd = "${WORK:-/tmp}"\n'
        '[mcp.servers.files]\ncommand = "files"\ncwd = "${FILES_DIR}"\n',
    )
    servers = load_settings(p, env={"TOOL_BIN": "/opt/bin"}, dotenv=False).mcp_servers()
    assert servers["local"].command == "/opt/bin/server" and servers["local"].cwd == "/tmp"
    servers["local"].require_environment({})  # fully resolved at load: nothing left to ask for
    assert servers["remote"].headers == {"Authorization": "Bearer ${TOKEN}"}  # left for the connection to report
    with pytest.raises(MissingEnvironmentVariable) as info:
        servers["remote"].require_environment({})
    assert info.value.variable == "TOKEN"
    with pytest.raises(MissingEnvironmentVariable, match="FILES_DIR"):
        servers["files"].require_environment({})
    servers["files"].require_environment({"FILES_DIR": "/srv"})


def test_enabled_is_a_strict_boolean(tmp_path: Path) -> None:
    p = _write(tmp_path, '[mcp.servers.a]\ncommand = "a"\nenabled = "false"\n[mcp.servers.b]\ncommand = "b"\n')
    assert list(load_settings(p, env={}, dotenv=False).mcp_servers()) == ["b"]
    p = _write(tmp_path, '[mcp.servers.a]\ncommand = "a"\nenabled = "nope"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(p, env={}, dotenv=False)
    assert str(info.value) == f"{p}: mcp.servers.a.enabled: Input should be a valid boolean, unable to interpret input"


def test_dotenv_in_the_working_directory_and_beside_the_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work, conf = tmp_path / "work", tmp_path / "conf"
    work.mkdir()
    conf.mkdir()
    (work / ".env").write_text("OLLAMA_KEY=from-cwd\nVOXMCP_LLM__THREADS=3\nSHARED=cwd\n")
    (conf / ".env").write_text("SHARED=beside\nBESIDE_ONLY=yes\n")
    p = conf / "voxmcp.toml"
    p.write_text('[models.llm]\nprovider = "openai"\nmodel = "m"\napi_key = "${OLLAMA_KEY}"\n')
    monkeypatch.chdir(work)
    env = {"SHARED_REAL": "1"}
    s = load_settings(p, env=env)
    assert s.models.llm.api_key is not None and s.models.llm.api_key.get_secret_value() == "from-cwd"
    assert s.llm.threads == 3
    # real variables win over .env, and ./.env over the one beside the config
    s = load_settings(p, env={"OLLAMA_KEY": "real"})
    assert s.models.llm.api_key is not None and s.models.llm.api_key.get_secret_value() == "real"
    environ: dict[str, str] = {"SHARED": "real"}
    load_dotenv_files(dotenv_files(p), environ)
    assert environ == {"SHARED": "real", "OLLAMA_KEY": "from-cwd", "VOXMCP_LLM__THREADS": "3", "BESIDE_ONLY": "yes"}
    environ = {}
    load_dotenv_files(dotenv_files(p), environ)
    assert environ["SHARED"] == "cwd"


def test_dotenv_that_is_not_utf8_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_bytes(b"TOKEN=\xff\xfe\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        load_settings(env={})
    assert str(info.value) == f"{tmp_path / '.env'}: not UTF-8 text (byte 0xff on line 1); save it as UTF-8"


def test_servers_from_toml_and_mcp_json(tmp_path: Path) -> None:
    (tmp_path / "mcp.json").write_text(json.dumps({"mcpServers": {"time": {"command": "mcp-server-time"}}}))
    p = _write(tmp_path, '[mcp]\nmcp_json = "mcp.json"\n[mcp.servers.demo]\nurl = "http://127.0.0.1:9999/mcp"\n')
    servers = load_settings(p, env={}, dotenv=False).mcp_servers()
    assert servers["demo"].url == "http://127.0.0.1:9999/mcp"
    assert servers["time"].command == "mcp-server-time"


def test_a_bad_mcp_json_is_a_load_error_naming_file_and_key(tmp_path: Path) -> None:
    mcp_json = tmp_path / "mcp.json"
    mcp_json.write_text(json.dumps({"mcpServers": {"time": {"command": "t", "timeout": "abc"}}}))
    p = _write(tmp_path, '[mcp]\nmcp_json = "mcp.json"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(p, env={}, dotenv=False)
    assert str(info.value) == f'{mcp_json}: mcpServers.time.timeout: expected a number of milliseconds, got "abc"'
    p = _write(tmp_path, '[mcp]\nmcp_json = "absent.json"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(p, env={}, dotenv=False)
    assert str(info.value) == f"{tmp_path / 'absent.json'}: no such file; check mcp.mcp_json"


def test_server_needs_url_or_command(tmp_path: Path) -> None:
    p = _write(tmp_path, "[mcp.servers.broken]\ntimeout_s = 3\n")
    with pytest.raises(ConfigError, match=r"mcp\.servers\.broken"):
        load_settings(p, env={}, dotenv=False)


def test_livekit_env_variables(tmp_path: Path) -> None:
    env = {"LIVEKIT_URL": "ws://127.0.0.1:7880", "LIVEKIT_API_KEY": "devkey", "LIVEKIT_API_SECRET": "secret"}
    s = load_settings(env=env, dotenv=False)
    assert s.livekit.url == "ws://127.0.0.1:7880"
    assert s.livekit.api_secret is not None and s.livekit.api_secret.get_secret_value() == "secret"


_toml_values = st.recursive(
    st.booleans() | st.integers() | st.floats() | st.text(max_size=10) | st.sampled_from(["${UNSET_X}", "local/x"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)
_sections = st.sampled_from(["agent", "models", "stt", "llm", "voice", "mcp", "livekit", "other"])
_fields = st.sampled_from(["servers", "url", "command", "threads", "llm", "stt", "mcp_json", "enabled", "api_key", "x"])
_tables = st.dictionaries(_fields, _toml_values | st.dictionaries(st.text(max_size=5), _toml_values, max_size=2))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.dictionaries(_sections, _tables | _toml_values, max_size=3),
    env=st.dictionaries(
        st.sampled_from(["VOXMCP_LLM__THREADS", "VOXMCP_LLM", "VOXMCP_MCP__SERVERS__A__URL"]), st.text(max_size=6)
    ),
)
def test_any_table_is_settings_or_one_named_error(
    tmp_path_factory: pytest.TempPathFactory, data: dict[str, object], env: dict[str, str]
) -> None:
    """Whatever a voxmcp.toml (and VOXMCP_* variables) hold: Settings, or ConfigError on one line naming the file."""
    base = tmp_path_factory.getbasetemp()
    try:
        settings = settings_from_data(data, env=env, source="voxmcp.toml", base_dir=base)
        settings.mcp_servers()
    except ConfigError as exc:
        message = str(exc)
        assert "\n" not in message
        assert message.startswith(("voxmcp.toml: ", "VOXMCP_", str(base)))


def test_grounding_rules_switched_off_must_exist(tmp_path: Path) -> None:
    ok = load_settings(_write(tmp_path, '[llm]\nrules_off = ["clock_24h", "evidence"]\n'), env={}, dotenv=False)
    assert ok.llm.rules_off == ["clock_24h", "evidence"]
    with pytest.raises(ConfigError, match=r"llm\.rules_off.*unknown grounding rule.*'clock'"):
        load_settings(_write(tmp_path, '[llm]\nrules_off = ["clock"]\n'), env={}, dotenv=False)
