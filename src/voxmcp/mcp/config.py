"""Typed configuration of one MCP server, as found in `voxmcp.toml` or an `mcpServers` JSON file."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, TypeAdapter, ValidationError, model_validator

from voxmcp.mcp.oauth_settings import OAuthSettings

_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class MCPConfigError(ValueError):
    """A server table or `mcpServers` file is malformed; the message names the file, server and key."""


class ConfigFileMissing(MCPConfigError):
    """The named config file does not exist (the caller can say where the name came from)."""


class MissingEnvironmentVariable(MCPConfigError):
    """A `${NAME}` reference names a variable that is not set (and has no `${NAME:-default}`)."""

    def __init__(self, variable: str) -> None:
        super().__init__(f"environment variable {variable} is not set")
        self.variable = variable


def interpolate_env(value: str, environ: dict[str, str] | None = None) -> str:
    """Replace `${NAME}` (or `${NAME:-default}`) with the environment's value: secrets stay out of files."""
    source = os.environ if environ is None else environ

    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        found = source.get(name)
        if found is not None:
            return found
        if default is not None:
            return default
        raise MissingEnvironmentVariable(name)

    return _ENV_REFERENCE.sub(replace, value)


def interpolate_known(value: Any, environ: Mapping[str, str] | None = None) -> Any:
    """`interpolate_env` over a whole table, leaving `${NAME}` of an unset variable in place.

    Why: a server that names an unset variable must fail on its own when it connects ("The X server needs the
    environment variable Y"), not reject the whole configuration at load time.
    """
    source = os.environ if environ is None else environ
    if isinstance(value, str):

        def replace(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            found = source.get(name)
            if found is not None:
                return found
            return default if default is not None else match.group(0)

        return _ENV_REFERENCE.sub(replace, value)
    if isinstance(value, dict):
        return {key: interpolate_known(item, source) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate_known(item, source) for item in value]
    return value


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, SecretStr):
        yield value.get_secret_value()
    elif isinstance(value, str):
        yield value
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _strings(getattr(value, name))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


class MCPServerConfig(BaseModel):
    """One MCP server: either a URL (HTTP transports) or a command (stdio)."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = None
    transport: Literal["auto", "streamable-http", "sse", "stdio"] = "auto"
    command: str | None = None
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    auth: Literal["none", "oauth", "client_credentials"] = "none"
    oauth: OAuthSettings | None = None
    """Client identity and flow options for `auth = "oauth"` / `"client_credentials"` (see oauth_settings)."""
    allowed_tools: list[str] | None = None
    denied_tools: list[str] = Field(default_factory=list)
    timeout_s: float = Field(default=30.0, gt=0, allow_inf_nan=False)
    tool_timeouts: dict[str, float] = Field(default_factory=dict)
    enabled: bool = True
    # Beyond the contract's core fields (all optional, defaults keep the old behaviour).
    connect_timeout_s: float = Field(default=10.0, gt=0, allow_inf_nan=False)
    """Bound on one connect attempt (transport + initialize / server/discover)."""
    protocol: Literal["auto", "legacy"] = "auto"
    """`auto`: probe the 2026-07-28 stateless revision (server/discover), fall back to initialize;
    `legacy`: always the initialize handshake (for servers that mishandle the probe)."""
    reconnect: bool = True
    """Reconnect with backoff when the connection drops; a call that failed on a drop is retried once."""
    sampling: bool = False
    """Per-server sampling policy: only servers with `sampling = true` may ask the session's LLM."""
    expose_resources: bool = False
    """Offer this server's resources to the LLM through a `read_resource` tool."""
    expose_prompts: bool = False
    """Offer this server's prompts to the LLM through a `get_prompt` tool."""

    @model_validator(mode="after")
    def _url_xor_command(self) -> MCPServerConfig:
        if (self.url is None) == (self.command is None):
            raise ValueError("give exactly one of `url` (HTTP) or `command` (stdio)")
        if self.command is not None and self.transport not in ("auto", "stdio"):
            raise ValueError(f"`command` servers run over stdio; transport {self.transport!r} needs a `url`")
        if self.url is not None and self.transport == "stdio":
            raise ValueError("transport 'stdio' needs a `command`, not a `url`")
        for tool, seconds in self.tool_timeouts.items():
            if seconds <= 0:
                raise ValueError(f"tool_timeouts[{tool!r}] must be > 0 seconds, got {seconds}")
        return self

    @property
    def effective_transport(self) -> Literal["auto", "streamable-http", "sse", "stdio"]:
        """The transport to open: `stdio` for commands, else the configured HTTP flavour."""
        return "stdio" if self.command is not None else self.transport

    def require_environment(self, environ: Mapping[str, str] | None = None) -> None:
        """Raise MissingEnvironmentVariable for the first `${NAME}` (without a default) left unset in this table.

        Called when the server connects, so an unset variable fails this server alone, whichever key names it.
        """
        source = os.environ if environ is None else environ
        for text in _strings(self):
            for match in _ENV_REFERENCE.finditer(text):
                if match.group(2) is None and match.group(1) not in source:
                    raise MissingEnvironmentVariable(match.group(1))

    def timeout_for(self, tool: str) -> float:
        """Per-tool timeout if configured, else the server's."""
        return self.tool_timeouts.get(tool, self.timeout_s)

    def tool_allowed(self, tool: str) -> bool:
        """Allow list (if any) first, then the deny list."""
        if self.allowed_tools is not None and tool not in self.allowed_tools:
            return False
        return tool not in self.denied_tools


def key_part(name: object) -> str:
    """One part of a dotted key as a user wrote it; odd names are quoted so the message stays one line."""
    text = str(name)
    return text if re.fullmatch(r"[\w$@/:+-]+", text) else json.dumps(text)


def validation_problems(err: ValidationError, *, rename: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    """(dotted key, message) for each error pydantic found; `rename` maps a first key back to the file's spelling.

    Shared by `voxmcp.toml` and `mcpServers` JSON, so both name the bad key and say what is wrong the same way.
    """
    problems: list[tuple[str, str]] = []
    for error in err.errors():
        loc = [key_part(part) for part in error["loc"] if not str(part).startswith("function-")]
        if loc and rename and loc[0] in rename:
            loc[0] = rename[loc[0]]
        message = "unknown key" if error["type"] == "extra_forbidden" else error["msg"].removeprefix("Value error, ")
        problems.append((".".join(loc), message))
    return problems


def describe_problems(source: str, problems: Sequence[tuple[str, str]], limit: int = 4) -> str:
    """One line: `mcp.json: mcpServers.time.timeout: Input should be a valid number` (more problems after `;`)."""
    parts = [f"{key}: {message}" if key else message for key, message in problems[:limit]]
    if len(problems) > limit:
        parts.append(f"and {len(problems) - limit} more")
    return f"{source}: {'; '.join(parts)}".replace("\r", "\\r").replace("\n", "\\n")


def read_config_text(path: Path, what: str, *, max_bytes: int = 4_000_000) -> str:
    """A config file's text, or MCPConfigError naming the file: missing, unreadable, huge or not UTF-8."""
    if path.is_dir():
        raise MCPConfigError(f"{path}: is a directory, not a {what} file")
    try:
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except FileNotFoundError as exc:
        raise ConfigFileMissing(f"{path}: no such file") from exc
    except OSError as exc:
        raise MCPConfigError(f"{path}: cannot read it ({exc.strerror or exc})") from exc
    except ValueError as exc:  # a NUL byte in the name
        raise MCPConfigError(f"{str(path)!r} is not a usable file name") from exc
    if len(data) > max_bytes:
        raise MCPConfigError(f"{path}: larger than {max_bytes // 1_000_000} MB, which is not a {what} file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise MCPConfigError(
            f"{path}: not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}); save it as UTF-8"
        ) from exc


# Keys desktop MCP clients (Claude Desktop, Cursor, VS Code, Windsurf) use in an `mcpServers` entry.
_TRANSPORT_ALIASES: dict[str, Literal["auto", "streamable-http", "sse", "stdio"]] = {
    "stdio": "stdio",
    "sse": "sse",
    "http": "streamable-http",
    "streamable-http": "streamable-http",
    "streamablehttp": "streamable-http",
    "streamable_http": "streamable-http",
}
_DESKTOP_KEYS_IGNORED = {"description", "disabledTools_comment", "autoApprove", "alwaysAllow", "icon"}
# desktop spelling -> ours; errors are reported under the spelling the file used
_DESKTOP_RENAMES = {
    "serverUrl": "url",
    "type": "transport",
    "disabledTools": "denied_tools",
    "disabled_tools": "denied_tools",
    "timeout": "timeout_s",
    "disabled": "enabled",
}
_BOOL: TypeAdapter[bool] = TypeAdapter(bool)
_FLOAT: TypeAdapter[float] = TypeAdapter(float)


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "true/false", type(None): "null"}
    return names.get(type(value), "a number")


def _server_from_desktop_entry(
    entry: dict[str, Any], key_prefix: str, environ: Mapping[str, str] | None
) -> MCPServerConfig:
    """Map one desktop-style entry (`url`/`serverUrl`, `command`, `args`, `env`, `headers`, `type`) and validate it
    with MCPServerConfig, as a `[mcp.servers.NAME]` table is; raises MCPConfigError naming the key."""
    data: dict[str, Any] = {}
    rename: dict[str, str] = {}
    problems: list[tuple[str, str]] = []
    for key, value in entry.items():
        ours = _DESKTOP_RENAMES.get(key, key)
        if key in _DESKTOP_KEYS_IGNORED:
            continue
        if ours in data:
            problems.append(
                (f"{key_prefix}.{key_part(key)}", f"repeats `{rename.get(ours, ours)}`; give only one of them")
            )
            continue
        rename[ours] = key
        if key in ("type", "transport"):
            if not isinstance(value, str) or value.lower() not in _TRANSPORT_ALIASES:
                allowed = ", ".join(sorted(_TRANSPORT_ALIASES))
                problems.append((f"{key_prefix}.{key}", f"unknown transport {value!r} (expected one of: {allowed})"))
                continue
            data[ours] = _TRANSPORT_ALIASES[value.lower()]
        elif key == "disabled":
            # the same strict boolean as `enabled` in voxmcp.toml: "false" is false, "maybe" is an error
            try:
                data[ours] = not _BOOL.validate_python(value)
            except ValidationError as exc:
                problems.append((f"{key_prefix}.{key}", exc.errors()[0]["msg"]))
        elif key == "timeout":
            # desktop files give milliseconds under `timeout`; ours are seconds
            try:
                if isinstance(value, bool):
                    raise ValueError
                data[ours] = _FLOAT.validate_python(value) / 1000.0
            except (ValidationError, ValueError):
                problems.append((f"{key_prefix}.{key}", f"expected a number of milliseconds, got {json.dumps(value)}"))
        else:
            data[ours] = value
    if problems:
        raise MCPConfigError(describe_problems("", problems).removeprefix(": "))
    try:
        return MCPServerConfig.model_validate(interpolate_known(data, environ))
    except ValidationError as exc:
        found = [
            (f"{key_prefix}.{key}" if key else key_prefix, message)
            for key, message in validation_problems(exc, rename=rename)
        ]
        raise MCPConfigError(describe_problems("", found).removeprefix(": ")) from None


def parse_mcp_servers(
    document: Any, *, source: str = "mcpServers", environ: Mapping[str, str] | None = None
) -> dict[str, MCPServerConfig]:
    """Read the `{"mcpServers": {name: entry}}` shape (a bare `{name: entry}` mapping is accepted too).

    `${NAME}` references to set variables are replaced now; unset ones are left for the connection to report.
    """
    if not isinstance(document, dict):
        raise MCPConfigError(
            f'{source}: expected a JSON object like {{"mcpServers": {{...}}}}, got {_json_type(document)}'
        )
    key = "mcpServers" if "mcpServers" in document else "servers" if "servers" in document else ""
    servers = document[key] if key else document
    if not isinstance(servers, dict):
        raise MCPConfigError(f"{source}: {key}: expected an object mapping names to servers, got {_json_type(servers)}")
    result: dict[str, MCPServerConfig] = {}
    for name, entry in servers.items():
        prefix = f"{key}.{key_part(name)}" if key else key_part(name)
        if not isinstance(entry, dict):
            raise MCPConfigError(f"{source}: {prefix}: expected an object, got {_json_type(entry)}")
        try:
            result[str(name)] = _server_from_desktop_entry(entry, prefix, environ)
        except MCPConfigError as exc:
            raise MCPConfigError(f"{source}: {exc}") from None
    return result


def load_mcp_servers_json(path: str | Path, environ: Mapping[str, str] | None = None) -> dict[str, MCPServerConfig]:
    """Load servers from a desktop-client style JSON file; errors name the file and the bad key."""
    file = Path(path)
    text = read_config_text(file, "JSON")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MCPConfigError(f"{file}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise MCPConfigError(f"{file}: nested too deeply to be a server list") from None
    return parse_mcp_servers(document, source=str(file), environ=environ)
