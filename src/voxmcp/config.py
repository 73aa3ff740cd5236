"""One typed settings object for voxmcp: `voxmcp.toml` + environment + `.env`.

Precedence, lowest first: built-in defaults, the TOML file, `VOXMCP_*` environment variables (nested keys joined
by `__`, e.g. `VOXMCP_MODELS__LLM=local/qwen2.5-coder-1.5b`). `${VAR}` in any TOML string is replaced from the
environment, where variables from `./.env` (and a `.env` next to the config file) fill in what is not set. Every
error is one line naming the file and the key that is wrong. A server's table is the exception: an unset `${VAR}`
there is left for that server to report when it connects, so one server's missing secret doesn't stop the others.
"""

from __future__ import annotations

import io
import json
import os
import re
import tomllib
from collections.abc import Iterable, Mapping, MutableMapping
from pathlib import Path
from typing import Any, ClassVar, Literal

from dotenv import dotenv_values
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from voxmcp.mcp.config import (
    ConfigFileMissing,
    MCPConfigError,
    MCPServerConfig,
    describe_problems,
    interpolate_known,
    key_part,
    load_mcp_servers_json,
    read_config_text,
    validation_problems,
)

DEMO_SERVER_URL = "http://127.0.0.1:8931/mcp"
ENV_PREFIX = "VOXMCP_"
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")

DEFAULT_INSTRUCTIONS = (
    "You are a helpful voice assistant. You are speaking out loud, so answer in one or two short, plain "
    "sentences with no lists, no markdown and no JSON. Use a tool when the user asks for something a tool "
    "provides (weather, time, unit conversion, notes, ...); otherwise just answer. After a tool result, "
    "answer the user's question from that result. Never invent data a tool should provide."
)


class ConfigError(ValueError):
    """A configuration problem, with a message that names the bad key and what to do."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ModelRef(_Strict):
    """Which implementation fills one role: `provider/model`, e.g. `local/whisper-tiny.en` or `openai/gpt-4o-mini`.

    `base_url` and `api_key` apply to OpenAI-compatible providers (OpenAI, Ollama, vLLM, llama.cpp server).
    """

    provider: Literal["local", "openai"] = "local"
    model: str
    base_url: str | None = None
    api_key: SecretStr | None = None
    voice: str | None = None

    @classmethod
    def parse(cls, value: str) -> ModelRef:
        provider, sep, model = value.partition("/")
        if not sep:
            if value in ("espeak", "espeak-ng"):
                return cls(provider="local", model="espeak-ng")
            raise ValueError(f"expected 'provider/model' (e.g. 'local/whisper-tiny.en'), got {value!r}")
        return cls.model_validate({"provider": provider, "model": model})

    def __str__(self) -> str:
        return f"{self.provider}/{self.model}"


LOCAL_STT = ("whisper-tiny.en", "whisper-base")
LOCAL_LLM = ("qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b")
LOCAL_TTS = ("hibari", "piper-joe", "espeak-ng", "espeak")


def _coerce_ref(value: Any) -> Any:
    if isinstance(value, str):
        return ModelRef.parse(value)
    return value


class ModelsSettings(_Strict):
    stt: ModelRef = Field(default_factory=lambda: ModelRef.parse("local/whisper-tiny.en"))
    llm: ModelRef = Field(default_factory=lambda: ModelRef.parse("local/qwen2.5-coder-0.5b"))
    tts: ModelRef = Field(default_factory=lambda: ModelRef.parse("local/hibari"))

    _coerce = field_validator("stt", "llm", "tts", mode="before")(_coerce_ref)

    @field_validator("stt")
    @classmethod
    def _known_stt(cls, v: ModelRef) -> ModelRef:
        return _check_local(v, LOCAL_STT)

    @field_validator("llm")
    @classmethod
    def _known_llm(cls, v: ModelRef) -> ModelRef:
        return _check_local(v, LOCAL_LLM)

    @field_validator("tts")
    @classmethod
    def _known_tts(cls, v: ModelRef) -> ModelRef:
        return _check_local(v, LOCAL_TTS)


def _check_local(ref: ModelRef, known: tuple[str, ...]) -> ModelRef:
    if ref.provider == "local" and ref.model not in known:
        raise ValueError(f"unknown local model {ref.model!r}; choose one of: {', '.join(known)}")
    return ref


class AgentSettings(_Strict):
    instructions: str = DEFAULT_INSTRUCTIONS
    greeting: bool = True
    greeting_text: str | None = None
    max_tool_steps: int = Field(default=3, ge=1, le=10)
    max_repairs: int = Field(default=1, ge=0, le=5)
    """Corrected calls the turn policy allows per turn after a call is refused or fails its schema. One by default:
    on the tuning suite the local 0.5B corrected none of 8 refused calls (it repeats them), and each attempt costs
    a generation; a stronger LLM is worth 2."""
    turn_policy: bool = True
    """Run the LLM inside the turn policy (validation, repair, ask, honesty); off only to measure what it costs."""


class STTSettings(_Strict):
    beam_size: int = Field(default=5, ge=1, le=10)
    """Beam 1 decodes ~30% faster but mishears more (a room test heard "weather" as "not where they're")."""
    threads: int = Field(default=2, ge=1, le=64)


class LLMSettings(_Strict):
    n_ctx: int = Field(default=4096, ge=512, le=32768)
    threads: int = Field(default=2, ge=1, le=64)
    temperature: float = Field(default=0.2, ge=0.0, le=2.0)
    max_tokens: int = Field(default=160, ge=16, le=4096)
    seed: int = 7
    rules_off: list[str] = Field(default_factory=list)
    """Grounding rules of the local LLM not to apply (names in voxmcp.models.grounding.RULES): to measure what one
    is worth, e.g. with `voxmcp eval --typed-from`."""

    @field_validator("rules_off")
    @classmethod
    def _known_rules(cls, value: list[str]) -> list[str]:
        from voxmcp.models.grounding import RULES

        unknown = [r for r in value if r not in RULES]
        if unknown:
            raise ValueError(f"unknown grounding rule(s) {unknown}; known: {', '.join(RULES)}")
        return value


class VoiceSettings(_Strict):
    min_silence_s: float = Field(default=0.35, ge=0.1, le=3.0)
    endpointing_min_s: float = Field(default=0.6, ge=0.0, le=5.0)
    """A turn ends no sooner than this after the user's last word (a pause between two sentences is not the end);
    with whisper decoding during the silence, the transcript is usually ready by then."""
    eager_stt_after_s: float = Field(default=0.08, ge=0.0, le=3.0)
    """Start decoding this long into the end-of-turn silence (kept if the silence lasts); 0 decodes at the end only."""
    turn_detection: Literal["vad", "model"] = "vad"
    """"vad": a turn ends `endpointing_min_s` after the last word. "model": LiveKit's local end-of-turn model
    (livekit-local-inference, weights inside the wheel) hears the last 1.2 s of speech at each pause and picks
    `model_min_delay_s` (the sentence sounds finished) or `model_max_delay_s` (it goes on). "vad" is the default:
    on the synthetic eval voices the model heard most finished requests as unfinished, which made them wait
    `model_max_delay_s`, and the words after a mid-sentence pause are still transcribed apart (evals/README.md)."""
    model_min_delay_s: float = Field(default=0.6, ge=0.0, le=5.0)
    """"model" mode: the end of turn when the model hears a finished sentence. Not lower by default: whisper's
    transcript of the last words comes ~0.6 s after them on 2 cores, and a turn committed before it loses them."""
    model_max_delay_s: float = Field(default=2.0, ge=0.0, le=10.0)
    """"model" mode: the end of turn when it hears an unfinished one; a mid-sentence pause this long is waited out."""
    preemptive_generation: bool = True
    """Start the LLM on the final transcript while the end of turn is still being waited for (LiveKit's preemptive
    generation); thrown away if the user goes on. Tools still run only after the turn ends, and a question asked
    mid-call (a confirmation) never answers from it. Bench, 5 Dec: no-tool voice-to-voice p50 1.40 s against 1.55 s
    without, tool turn first audible 0.83 against 0.91 s."""
    filler: bool = True
    tool_preamble: str | None = "One moment."
    """Said before a turn's first tool call (the local LLM says it as soon as it decides to call, before the call is
    generated); empty to disable."""
    confirm_destructive: bool = True
    progress_interval_s: float = Field(default=4.0, ge=1.0, le=60.0)

    MODEL_MIN_SILENCE_S: ClassVar[float] = 0.25
    """The VAD silence LiveKit's turn detector needs to ask its model (it asks at 0.2 s and requires 0.05 s more)."""

    @model_validator(mode="after")
    def _model_turn_detection(self) -> VoiceSettings:
        if self.turn_detection != "model":
            return self
        if self.min_silence_s < self.MODEL_MIN_SILENCE_S:
            # LiveKit refuses the detector with a shorter VAD silence (it asks the model at 0.2 s of silence)
            raise ValueError(f'turn_detection = "model" needs min_silence_s >= {self.MODEL_MIN_SILENCE_S}')
        if self.model_max_delay_s < self.model_min_delay_s:
            raise ValueError("model_max_delay_s must be at least model_min_delay_s")
        return self


class MCPSettings(_Strict):
    servers: dict[str, MCPServerConfig] = Field(default_factory=dict)
    mcp_json: Path | None = None
    connect_timeout_s: float = Field(default=8.0, gt=0, le=120)
    use_demo_server: bool = True


class LiveKitSettings(_Strict):
    """The worker (`voxmcp dev|start`). LIVEKIT_URL / LIVEKIT_API_KEY / LIVEKIT_API_SECRET fill the first three."""

    url: str | None = None
    api_key: SecretStr | None = None
    api_secret: SecretStr | None = None
    agent_name: str = ""
    """Empty: automatic dispatch to every room; a name: explicit dispatch only (LiveKit's convention)."""
    num_idle_processes: int | None = Field(default=None, ge=0, le=32)
    """Prewarmed job processes (models loaded once each); None keeps LiveKit's default."""
    max_jobs: int = Field(default=0, ge=0, le=256)
    """Sessions one worker accepts before LiveKit sends rooms elsewhere; 0 keeps LiveKit's CPU-based load."""
    health_host: str = "127.0.0.1"
    health_port: int = Field(default=0, ge=0, le=65535)
    """The worker's health endpoint: 0 picks a free port (several workers per host); 8081 for Kubernetes."""
    initialize_process_timeout_s: float = Field(default=120.0, gt=0)
    """Prewarm (model loading) budget per process; LiveKit's 10 s is too short on a 2-core CPU."""


class Settings(_Strict):
    agent: AgentSettings = Field(default_factory=AgentSettings)
    models: ModelsSettings = Field(default_factory=ModelsSettings)
    stt: STTSettings = Field(default_factory=STTSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    voice: VoiceSettings = Field(default_factory=VoiceSettings)
    mcp: MCPSettings = Field(default_factory=MCPSettings)
    livekit: LiveKitSettings = Field(default_factory=LiveKitSettings)

    _json_servers: tuple[Path, dict[str, MCPServerConfig]] | None = PrivateAttr(default=None)

    def mcp_servers(self) -> dict[str, MCPServerConfig]:
        """The servers to connect: TOML + `mcpServers` JSON, or the bundled demo server when none is configured."""
        servers = dict(self.mcp.servers)
        servers.update(self.json_servers())
        if not servers and self.mcp.use_demo_server:
            servers["demo"] = MCPServerConfig(url=DEMO_SERVER_URL)
        return {name: cfg for name, cfg in servers.items() if cfg.enabled}

    def json_servers(self, environ: Mapping[str, str] | None = None) -> dict[str, MCPServerConfig]:
        """The servers of `mcp.mcp_json` (read once; `load_settings` reads it up front so errors come early)."""
        path = self.mcp.mcp_json
        if path is None:
            return {}
        if self._json_servers is None or self._json_servers[0] != path:
            try:
                self._json_servers = (path, load_mcp_servers_json(path, environ))
            except ConfigFileMissing as e:
                raise ConfigError(f"{e}; check mcp.mcp_json") from None
            except MCPConfigError as e:
                raise ConfigError(str(e)) from None
        return dict(self._json_servers[1])


def interpolate(value: Any, env: Mapping[str, str], key: str = "") -> Any:
    """Replace `${VAR}` / `${VAR:-default}` in every string, recursively; a missing variable names its key."""
    if isinstance(value, str):

        def sub(m: re.Match[str]) -> str:
            name, default = m.group(1), m.group(2)
            if name in env:
                return env[name]
            if default is not None:
                return default
            raise ConfigError(
                f"{key or 'value'}: environment variable {name} is not set; set it, or add it to .env "
                f"(or write ${{{name}:-default}})"
            )

        return _ENV_REF.sub(sub, value)
    if isinstance(value, dict):
        return {k: interpolate(v, env, f"{key}.{key_part(k)}" if key else key_part(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env, f"{key}[{i}]") for i, v in enumerate(value)]
    return value


def _env_overrides(env: Mapping[str, str]) -> dict[str, Any]:
    """`VOXMCP_A__B=v` -> {"a": {"b": v}}; JSON values (numbers, booleans, lists) are decoded."""
    out: dict[str, Any] = {}
    for name, raw in env.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        path = [p.lower() for p in name[len(ENV_PREFIX) :].split("__")]
        try:
            value: Any = json.loads(raw)
        except ValueError:
            value = raw
        node = out
        for depth, part in enumerate(path[:-1]):
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                key = ".".join(path[: depth + 1])
                raise ConfigError(f"{name}: another VOXMCP_ variable already sets {key} to a value; keep one of them")
        node[path[-1]] = value
    return out


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(base.get(k), dict):
            base[k] = _merge(base[k], v)
        else:
            base[k] = v
    return base


def _apply_livekit_env(data: dict[str, Any], env: Mapping[str, str]) -> None:
    """LiveKit's own variables (LIVEKIT_URL, LIVEKIT_API_KEY, LIVEKIT_API_SECRET) fill the [livekit] table."""
    lk = data.setdefault("livekit", {})
    for var, key in (
        ("LIVEKIT_URL", "url"),
        ("LIVEKIT_API_KEY", "api_key"),
        ("LIVEKIT_API_SECRET", "api_secret"),
    ):
        if var in env and key not in lk:
            lk[key] = env[var]


def format_validation_error(
    err: ValidationError, source: str, env_sources: Mapping[tuple[str, ...], str] | None = None
) -> str:
    """One line naming the file and each bad key; a value that came from a `VOXMCP_*` variable names it too."""
    problems = []
    for key, message in validation_problems(err):
        parts = tuple(key.split("."))
        var = next((v for path, v in (env_sources or {}).items() if parts[: len(path)] == path), None)
        problems.append((f"{key} (from {var})" if var else key, message))
    return describe_problems(source, problems)


def _env_sources(env: Mapping[str, str]) -> dict[tuple[str, ...], str]:
    """Which `VOXMCP_A__B` variable set which key path, so an error can name the variable."""
    return {
        tuple(p.lower() for p in name[len(ENV_PREFIX) :].split("__")): name
        for name in env
        if name.startswith(ENV_PREFIX) and "__" in name
    }


def dotenv_files(config: Path | None) -> list[Path]:
    """Where `.env` is looked for: the working directory first, then next to the config file."""
    try:
        files = [Path.cwd() / ".env"]
    except OSError:  # the working directory was removed
        files = []
    if config is not None:
        beside = config.resolve().parent / ".env"
        if not files or beside != files[0].resolve():
            files.append(beside)
    return files


def load_dotenv_files(files: Iterable[Path], environ: MutableMapping[str, str]) -> None:
    """Fill variables that are not set from each `.env` that exists; real environment variables always win."""
    for file in files:
        if not file.is_file():
            continue
        try:
            text = read_config_text(file, ".env")
        except MCPConfigError as e:
            raise ConfigError(str(e)) from None
        values = dotenv_values(stream=io.StringIO(text))
        for name, value in values.items():
            if value is not None and name not in environ:
                environ[name] = value


def _interpolate_config(data: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """Strict `${VAR}` everywhere but the server tables, where unset variables are left for that server to report."""
    mcp = data.get("mcp")
    servers = mcp.get("servers") if isinstance(mcp, dict) else None
    if isinstance(mcp, dict) and isinstance(servers, dict):
        rest = interpolate({**data, "mcp": {k: v for k, v in mcp.items() if k != "servers"}}, environ)
        rest["mcp"]["servers"] = {name: interpolate_known(table, environ) for name, table in servers.items()}
        return dict(rest)
    return dict(interpolate(data, environ))


def load_settings(
    path: str | Path | None = None, *, env: Mapping[str, str] | None = None, dotenv: bool = True
) -> Settings:
    """Load settings from `path` (or ./voxmcp.toml when present), `.env` and the environment.

    With `env` None the process environment is used, and `.env` values are added to it (so servers started or
    connected later see them too). Raises ConfigError with one line naming the file and the bad key.
    """
    if path is None and Path("voxmcp.toml").is_file():
        path = Path("voxmcp.toml")
    p = Path(path) if path is not None else None
    environ: MutableMapping[str, str] = os.environ if env is None else dict(env)
    if dotenv:
        load_dotenv_files(dotenv_files(p), environ)
    data: dict[str, Any] = {}
    source = "settings"
    if p is not None:
        source = str(p)
        try:
            text = read_config_text(p, "TOML")
        except MCPConfigError as e:
            raise ConfigError(str(e)) from None
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{p}: not valid TOML: {e}") from None
        except RecursionError:
            raise ConfigError(f"{p}: nested too deeply to be a voxmcp.toml") from None
    return settings_from_data(data, env=environ, source=source, base_dir=p.parent if p is not None else None)


def settings_from_data(
    data: dict[str, Any], *, env: Mapping[str, str], source: str = "settings", base_dir: Path | None = None
) -> Settings:
    """Settings from a parsed `voxmcp.toml` table (`${VAR}` from `env`, then `VOXMCP_*` overrides); errors name
    `source` and the key. A relative `mcp.mcp_json` is taken relative to `base_dir`."""
    try:
        data = _interpolate_config(data, env)
    except ConfigError as e:
        raise ConfigError(f"{source}: {e}") from None
    mcp = data.get("mcp")
    if base_dir is not None and isinstance(mcp, dict) and isinstance(mcp.get("mcp_json"), str):
        try:
            mcp["mcp_json"] = str((base_dir / mcp["mcp_json"]).resolve())
        except (OSError, ValueError):
            raise ConfigError(f"{source}: mcp.mcp_json: {mcp['mcp_json']!r} is not a usable file name") from None
    _merge(data, _env_overrides(env))
    _apply_livekit_env(data, env)
    try:
        settings = Settings.model_validate(data)
    except ValidationError as e:
        raise ConfigError(format_validation_error(e, source, _env_sources(env))) from None
    settings.json_servers(env)  # a bad `mcpServers` file is a load error, named like a TOML one
    return settings
