"""The eval suite file: servers, spoken scenarios and their expectations, validated strictly.

A suite is YAML. Every table forbids unknown keys, and errors name the file, the scenario and the bad key, so a
typo in an expectation can't silently make a scenario pass.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from voxmcp.evals.voice import UserVoiceError, parse_voice, split_pauses


class SuiteError(ValueError):
    """The suite file is unreadable or invalid; the message names the file, scenario and key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---- servers ---------------------------------------------------------------------------------------------------


class DemoServer(_Strict):
    """voxmcp's bundled demo server (weather, time, units, notes, parcels), with a call audit log."""

    kind: Literal["demo"]
    faults: bool = False
    """Also offer fail_tool / hang_tool."""
    slow_step_s: float | None = Field(default=None, gt=0, le=10)
    """Seconds per progress step of the slow tool (check_package_status)."""
    timeout_s: float = Field(default=30.0, gt=0, le=300)


class EverythingServer(_Strict):
    """`@modelcontextprotocol/server-everything` over Streamable HTTP (needs tests/mcp/node/install.sh)."""

    kind: Literal["everything"]
    timeout_s: float = Field(default=30.0, gt=0, le=300)


class StdioServer(_Strict):
    """Any stdio MCP server, e.g. `python -m mcp_server_time`."""

    kind: Literal["stdio"]
    command: str = Field(min_length=1)
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    timeout_s: float = Field(default=30.0, gt=0, le=300)


class MemoryEntity(_Strict):
    """One entity of server-memory's knowledge graph, in the server's own JSONL shape."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str = Field(min_length=1)
    entity_type: str = Field(min_length=1, alias="entityType")
    observations: list[str] = Field(default_factory=list)


class MemoryRelation(_Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    source: str = Field(min_length=1, alias="from")
    target: str = Field(min_length=1, alias="to")
    relation_type: str = Field(min_length=1, alias="relationType")


class MemoryServer(_Strict):
    """`@modelcontextprotocol/server-memory` (a knowledge graph) over stdio, with a fresh memory file per scenario
    run holding these entities and relations (needs tests/mcp/node/install.sh)."""

    kind: Literal["memory"]
    entities: list[MemoryEntity] = Field(default_factory=list)
    relations: list[MemoryRelation] = Field(default_factory=list)
    timeout_s: float = Field(default=30.0, gt=0, le=300)


class FilesystemServer(_Strict):
    """`@modelcontextprotocol/server-filesystem` over stdio, allowed one fresh sandbox folder per scenario run that
    holds these files (relative path -> text), so a write in one scenario is never seen by another."""

    kind: Literal["filesystem"]
    files: dict[str, str] = Field(default_factory=dict)
    timeout_s: float = Field(default=30.0, gt=0, le=300)

    @field_validator("files")
    @classmethod
    def _relative(cls, v: dict[str, str]) -> dict[str, str]:
        for path in v:
            parts = Path(path).parts
            if not parts or Path(path).is_absolute() or ".." in parts:
                raise ValueError(f"file {path!r} must be a relative path inside the sandbox (no '..')")
        return v


class DownServer(_Strict):
    """A server that is configured but unreachable (nothing listens on its loopback port)."""

    kind: Literal["down"]


ServerSpec = Annotated[
    DemoServer | EverythingServer | StdioServer | MemoryServer | FilesystemServer | DownServer,
    Field(discriminator="kind"),
]
SERVER_KINDS = ("demo", "everything", "stdio", "memory", "filesystem", "down")


# ---- argument matchers -------------------------------------------------------------------------------------------


class ArgMatcher(_Strict):
    """How one argument must look. Exactly one of the fields; strings compare case-insensitively."""

    equals: str | float | bool | None = None
    contains: str | None = None
    regex: str | None = None
    number: float | None = None
    """The value (or a number inside a string) must be within `tolerance` of this."""
    tolerance: float = Field(default=0.01, ge=0)
    one_of: list[str | float] | None = None
    present: bool | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> ArgMatcher:
        given = [
            k for k in ("equals", "contains", "regex", "number", "one_of", "present") if getattr(self, k) is not None
        ]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of equals, contains, regex, number, one_of, present"
                + (f" (got {', '.join(given)})" if given else "")
            )
        if self.regex is not None:
            try:
                re.compile(self.regex)
            except re.error as e:
                raise ValueError(f"regex {self.regex!r} does not compile: {e}") from None
        return self


def _matcher(value: Any) -> Any:
    """A bare scalar is shorthand for `equals`."""
    if isinstance(value, str | int | float | bool):
        return {"equals": value}
    return value


class ExpectedCall(_Strict):
    """A tool call the agent must make (or, under `no_calls`, must not make): a `tool` with its `args`, or `one_of`
    several such calls when more than one tool does the job (search_nodes or open_nodes)."""

    tool: str | None = Field(default=None, min_length=1)
    """The MCP tool's name (matched against the name the agent exposed, with or without a server prefix)."""
    args: dict[str, ArgMatcher] = Field(default_factory=dict)
    error: bool | None = None
    """When set, the call's result must (True) or must not (False) be an error."""
    one_of: list[ExpectedCall] | None = Field(default=None, min_length=2)
    """Any one of these calls matches."""

    @field_validator("one_of", mode="before")
    @classmethod
    def _alternatives(cls, v: Any) -> Any:
        return [_call(x) for x in v] if isinstance(v, list) else v

    @model_validator(mode="after")
    def _tool_or_alternatives(self) -> ExpectedCall:
        if (self.tool is None) == (self.one_of is None):
            raise ValueError("give either `tool` (with its args) or `one_of` (a list of calls)")
        if self.one_of is not None and (self.args or self.error is not None):
            raise ValueError("with `one_of`, give args and error inside each alternative")
        return self

    def describe(self) -> str:
        """`get_weather(city={'equals': 'Tokyo'})`, or the alternatives joined by ' or '."""
        if self.one_of is not None:
            return " or ".join(alt.describe() for alt in self.one_of)
        args = ", ".join(f"{k}={m.model_dump(exclude_defaults=True)}" for k, m in self.args.items())
        return f"{self.tool}({args})"

    @field_validator("args", mode="before")
    @classmethod
    def _shorthand(cls, v: Any) -> Any:
        if isinstance(v, dict):
            return {k: _matcher(x) for k, x in v.items()}
        return v


def _call(value: Any) -> Any:
    return {"tool": value} if isinstance(value, str) else value


# ---- facts -----------------------------------------------------------------------------------------------------


class FromTool(_Strict):
    tool: str = Field(min_length=1)
    pattern: str = Field(min_length=1)
    """Regex with one group: the value the tool returned that the spoken answer must carry."""

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, v: str) -> str:
        try:
            if re.compile(v).groups < 1:
                raise ValueError(f"pattern {v!r} needs a capture group: the value to look for")
        except re.error as e:
            raise ValueError(f"pattern {v!r} does not compile: {e}") from None
        return v


class Fact(_Strict):
    """Something the spoken answer (the agent's audio transcribed back) must carry. Exactly one field."""

    any: list[str] | None = Field(default=None, min_length=1)
    """At least one of these phrases (normalized: case, punctuation, number words)."""
    regex: str | None = None
    from_tool: FromTool | None = None
    none: list[str] | None = Field(default=None, min_length=1)
    """None of these phrases may be said (e.g. an invented value)."""

    @model_validator(mode="after")
    def _exactly_one(self) -> Fact:
        given = [k for k in ("any", "regex", "from_tool", "none") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of any, regex, from_tool, none")
        if self.regex is not None:
            try:
                re.compile(self.regex)
            except re.error as e:
                raise ValueError(f"regex {self.regex!r} does not compile: {e}") from None
        return self


def _fact(value: Any) -> Any:
    if isinstance(value, str):
        return {"any": [value]}
    if isinstance(value, list):
        return {"any": value}
    return value


class StateCheck(_Strict):
    """What a memory or filesystem server holds after the scenario (server-side truth, not what the agent said)."""

    server: str = Field(min_length=1)
    file: str | None = None
    """A filesystem server's file, relative to its sandbox; omitted for a memory server (its memory file)."""
    regex: str | None = None
    """Must match the text (case-insensitive; `.` spans lines). With `absent`, must not."""
    absent: bool = False
    """The file must not exist, or (with `regex`) must not match."""

    @model_validator(mode="after")
    def _something_to_check(self) -> StateCheck:
        if self.regex is None and not self.absent:
            raise ValueError("give `regex` (what the state must hold) or `absent: true`")
        if self.regex is not None:
            try:
                re.compile(self.regex)
            except re.error as e:
                raise ValueError(f"regex {self.regex!r} does not compile: {e}") from None
        return self

    @property
    def key(self) -> str:
        return f"{self.server}:{self.file or ''}"


class Expectations(_Strict):
    calls: list[ExpectedCall] = Field(default_factory=list)
    """Every one must be matched by a distinct actual call (any order)."""
    no_calls: list[ExpectedCall] = Field(default_factory=list)
    """None of these may be called; `no_tools: true` forbids every call."""
    allow_calls: list[str] = Field(default_factory=list)
    """Extra tools the agent may call without counting as a wrong call (for precision)."""
    no_tools: bool = False
    no_effects: bool = False
    """No call may change anything: every successful call must be to a tool annotated read-only."""
    facts: list[Fact] = Field(default_factory=list)
    spoken: bool = True
    """The agent must say something audible in the last turn."""
    max_tool_calls: int | None = Field(default=None, ge=0)
    max_agent_turns: int | None = Field(default=None, ge=1)
    """Turn limit: the agent replies to at most this many utterances (a filler and its answer are one reply)."""
    interrupted: bool | None = None
    """With a barge-in: the agent's first answer must (True) have been cut off."""
    state: list[StateCheck] = Field(default_factory=list)
    """What the scenario's memory or filesystem servers must (not) hold afterwards."""

    @field_validator("calls", "no_calls", mode="before")
    @classmethod
    def _calls(cls, v: Any) -> Any:
        return [_call(x) for x in v] if isinstance(v, list) else v

    @field_validator("facts", mode="before")
    @classmethod
    def _facts(cls, v: Any) -> Any:
        return [_fact(x) for x in v] if isinstance(v, list) else v


# ---- turns and scenarios ------------------------------------------------------------------------------------------


def _pause_markers(text: str) -> str:
    split_pauses(text)  # a malformed `[pause N]` is an error here, not words the user voice says
    return text


class BargeIn(_Strict):
    say: str = Field(min_length=1)
    after_s: float = Field(default=1.0, ge=0, le=30)
    """Seconds into the agent's spoken answer at which the user starts talking again."""

    _say = field_validator("say")(_pause_markers)


class Turn(_Strict):
    say: str = Field(min_length=1)
    """What the user says: synthesized by the run's user voice (espeak-ng or piper), never the agent's voice.
    `[pause 1.2]` inside it is 1.2 s of silence mid-utterance (0.1-5 s, between two parts of speech)."""
    noise_snr_db: float | None = Field(default=None, ge=-10, le=60)
    """White noise mixed in at this signal-to-noise ratio."""
    barge_in: BargeIn | None = None
    voice: str | None = None
    """A user voice spec (`espeak:en-gb`, `piper:joe`) for this turn under every run; default: the run's voice."""

    _say = field_validator("say")(_pause_markers)

    @field_validator("voice")
    @classmethod
    def _voice(cls, v: str | None) -> str | None:
        return None if v is None else _voice_spec(v)


class Elicitation(_Strict):
    """How a scripted user fills an MCP elicitation form, for a runtime that doesn't ask by voice itself (voxmcp's
    VoicePolicies do: then the form is answered by the scenario's next spoken turn)."""

    action: Literal["accept", "decline", "cancel"] = "accept"
    content: dict[str, str | int | float | bool] = Field(default_factory=dict)


def _turn(value: Any) -> Any:
    return {"say": value} if isinstance(value, str) else value


class Scenario(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$", max_length=80)
    category: str = "general"
    description: str = ""
    servers: list[str] = Field(min_length=1)
    turns: list[Turn] = Field(min_length=1, max_length=10)
    expect: Expectations = Field(default_factory=Expectations)
    elicitation: Elicitation | None = None
    timeout_s: float | None = Field(default=None, gt=0, le=900)
    greet: bool = False
    suite: str = ""
    """The suite the scenario belongs to (reports group by it): the name of the file it is written in."""

    @field_validator("turns", mode="before")
    @classmethod
    def _turns(cls, v: Any) -> Any:
        return [_turn(x) for x in v] if isinstance(v, list) else v


def _voice_spec(spec: Any) -> str:
    """A user voice spec in its canonical form (`en-us` -> `espeak:en-us`); a bad one is a ValueError."""
    try:
        return str(parse_voice(spec))
    except UserVoiceError as e:
        raise ValueError(str(e)) from None


class SuiteDefaults(_Strict):
    timeout_s: float = Field(default=120.0, gt=0, le=900)
    """Per turn: how long to wait for a complete answer."""
    scenario_timeout_s: float = Field(default=300.0, gt=0, le=1800)
    """Hard bound on one scenario, start to finish."""
    settle_s: float = Field(default=1.5, ge=0.2, le=10)
    voices: list[str] = Field(default_factory=lambda: ["espeak:en-us"], min_length=1)
    """User voices (`espeak:en-us`, `piper:joe`, `piper:/path/model.onnx`): every scenario runs once per voice."""
    words_per_minute: int = Field(default=150, ge=80, le=300)

    @model_validator(mode="before")
    @classmethod
    def _old_voice_key(cls, data: Any) -> Any:
        """The old single `voice: en-us` key is a one-element `voices` list."""
        if isinstance(data, dict) and "voice" in data:
            if "voices" in data:
                raise ValueError("give either `voice` (one user voice, the old form) or `voices`, not both")
            data = {k: v for k, v in data.items() if k != "voice"} | {"voices": [data["voice"]]}
        return data

    @field_validator("voices")
    @classmethod
    def _voices(cls, v: list[str]) -> list[str]:
        specs = [_voice_spec(x) for x in v]
        dupes = sorted({x for x in specs if specs.count(x) > 1})
        if dupes:
            raise ValueError(f"user voice {dupes[0]!r} is listed twice")
        return specs


class Suite(_Strict):
    name: str = "suite"
    defaults: SuiteDefaults = Field(default_factory=SuiteDefaults)
    servers: dict[str, ServerSpec] = Field(min_length=1)
    scenarios: list[Scenario] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _own_scenarios(cls, data: Any) -> Any:
        """Scenarios written in this suite belong to it (an included suite's keep their own suite's name)."""
        if isinstance(data, dict) and isinstance(data.get("scenarios"), list):
            name = data.get("name", "suite")
            data = dict(data)
            data["scenarios"] = [
                {**sc, "suite": name} if isinstance(sc, dict) and "suite" not in sc else sc for sc in data["scenarios"]
            ]
        return data

    @model_validator(mode="after")
    def _references(self) -> Suite:
        seen: set[str] = set()
        for i, sc in enumerate(self.scenarios):
            if sc.name in seen:
                raise ValueError(f"scenarios[{i}]: duplicate scenario name {sc.name!r}")
            seen.add(sc.name)
            unknown = [s for s in sc.servers if s not in self.servers]
            if unknown:
                known = ", ".join(sorted(self.servers))
                raise ValueError(f"scenarios[{i}] ({sc.name}): unknown server {unknown[0]!r} (defined: {known})")
            for check in sc.expect.state:
                spec = self.servers.get(check.server) if check.server in sc.servers else None
                if not isinstance(spec, MemoryServer | FilesystemServer):
                    raise ValueError(
                        f"scenarios[{i}] ({sc.name}): state check on {check.server!r}, which is not one of the "
                        "scenario's memory or filesystem servers"
                    )
                if isinstance(spec, FilesystemServer) != (check.file is not None):
                    raise ValueError(
                        f"scenarios[{i}] ({sc.name}): a state check names a `file` for a filesystem server, "
                        "and none for a memory server"
                    )
        return self


def _location(loc: tuple[Any, ...], data: Any) -> str:
    """`scenarios[3] (weather-tokyo).expect.calls[0]` from a pydantic error location."""
    parts: list[str] = []
    node = data
    for p in loc:
        if isinstance(p, int):
            label = f"[{p}]"
            if isinstance(node, list) and p < len(node):
                node = node[p]
                if isinstance(node, dict) and isinstance(node.get("name"), str) and parts and parts[-1] == "scenarios":
                    label += f" ({node['name']})"
            parts[-1] = parts[-1] + label if parts else label
            continue
        name = str(p)
        if name in SERVER_KINDS and isinstance(node, dict) and node.get("kind") == name:
            continue  # the discriminator's tag, not a key
        if name.startswith("function-"):
            continue
        node = node.get(name) if isinstance(node, dict) else None
        parts.append(name)
    return ".".join(parts) or "suite"


def format_suite_error(err: ValidationError, source: str, data: Any) -> str:
    lines = [f"invalid eval suite {source}:"]
    for e in err.errors():
        msg = "unknown key" if e["type"] == "extra_forbidden" else e["msg"]
        msg = msg.removeprefix("Value error, ")
        lines.append(f"  {_location(tuple(e['loc']), data)}: {msg}")
    return "\n".join(lines)


def parse_suite(data: Any, *, source: str = "suite") -> Suite:
    """Validate an already-loaded suite document; SuiteError names what is wrong."""
    if not isinstance(data, dict):
        raise SuiteError(f"{source}: the suite must be a mapping with `servers` and `scenarios`")
    try:
        return Suite.model_validate(data)
    except ValidationError as e:
        raise SuiteError(format_suite_error(e, source, data)) from None


def _read_yaml(p: Path) -> Any:
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SuiteError(f"eval suite {p} does not exist") from None
    except OSError as e:
        raise SuiteError(f"eval suite {p}: cannot read ({e.strerror})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise SuiteError(f"eval suite {p} is not valid YAML: {e}") from None


def _resolved(p: Path, seen: tuple[Path, ...] = ()) -> Any:
    """The suite document at `p` with its `include:` files merged in: their servers (a name defined twice must be
    the same server) and scenarios (each keeping its own suite's name); the including file's defaults apply."""
    data = _read_yaml(p)
    if not isinstance(data, dict) or "include" not in data:
        return data
    includes = data["include"]
    if not isinstance(includes, list) or not all(isinstance(x, str) for x in includes):
        raise SuiteError(f"{p}: `include` must be a list of suite files (paths relative to {p.name})")
    merged = {k: v for k, v in data.items() if k != "include"}
    servers: dict[str, Any] = dict(merged.get("servers") or {})
    origin = dict.fromkeys(servers, str(p))
    scenarios: list[Any] = list(merged.get("scenarios") or [])
    for rel in includes:
        child = (p.parent / rel).resolve()
        if child in seen or child == p.resolve():
            raise SuiteError(f"{p}: including {rel} again makes a cycle")
        sub = _resolved(child, (*seen, p.resolve()))
        parse_suite(sub, source=str(p.parent / rel))  # its own errors, named by its own file
        for name, spec in sub["servers"].items():
            if name in servers and servers[name] != spec:
                raise SuiteError(f"{p}: server {name!r} is defined differently in {origin[name]} and {rel}")
            servers.setdefault(name, spec)
            origin.setdefault(name, rel)
        sub_name = sub.get("name", "suite")
        scenarios += [{**sc, "suite": sc.get("suite", sub_name)} for sc in sub["scenarios"]]
    merged["servers"] = servers
    merged["scenarios"] = scenarios
    return merged


def load_suite(path: str | Path) -> Suite:
    """A suite file, with the suites it includes."""
    p = Path(path)
    return parse_suite(_resolved(p), source=str(p))
