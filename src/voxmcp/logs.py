"""Logging for every voxmcp entry point: one handler, a level from `VOXMCP_LOG_LEVEL`, and no secrets in any line.

Why one module: the HTTP clients (httpx, httpx2, httpcore), the MCP SDK and LiveKit log URLs, headers and payloads
of their own, at INFO and DEBUG. A `?api_key=` query, a `user:password@` URL, an `Authorization` header or an OAuth
token in one of those lines is a leaked secret, so every record passes through one redaction step:

* a log-record factory scrubs the message (after `%` formatting, so args are covered) and any traceback of every
  record the process creates, whichever handler prints it (LiveKit's own ones included);
* `RedactingFilter`, installed on the handlers, also scrubs the `extra` fields (dicts of headers, URLs, errors).

Redaction is by shape, not by knowing the secret: secret-looking query parameters and `key=value` pairs, URL
userinfo, `Authorization`/`Cookie`/`X-Api-Key` headers (text, dicts and `(name, value)` pairs), `Bearer`/`Basic`
credentials and JWTs; plus the literal values of secret-named environment variables (`*_API_KEY`, `*_SECRET`,
`*_TOKEN`, `*_PASSWORD`) and values registered with `add_secret`. Every pattern is linear in the text's length.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
from collections.abc import Iterable, Mapping
from typing import Any

LEVEL_ENV = "VOXMCP_LOG_LEVEL"
LEVEL_NAMES = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
FORMAT = "%(levelname)s %(name)s: %(message)s"
MASK = "***"


class LogLevelError(ValueError):
    """`VOXMCP_LOG_LEVEL` names no level; the message says which values work."""


def parse_level(value: str | int | None, default: int = logging.WARNING, *, source: str = LEVEL_ENV) -> int:
    """`debug`, `DEBUG`, ` Info `, `WARN`, `10` -> a logging level; anything else is one clear sentence naming
    `source` (the variable or option the value came from)."""
    if value is None:
        return default
    if isinstance(value, int):
        return value
    text = value.strip().upper()
    if not text:
        return default
    if text.isdigit():
        return int(text)
    aliases = {"WARN": "WARNING", "FATAL": "CRITICAL"}
    text = aliases.get(text, text)
    if text in LEVEL_NAMES:
        level: int = getattr(logging, text)
        return level
    raise LogLevelError(
        f"{source}={value!r} is not a log level; use one of {', '.join(n.lower() for n in LEVEL_NAMES)}."
    )


# --- what a secret looks like -------------------------------------------------------------------------------------

_WORDS = (
    r"token|secret|passw(?:or)?d|api[-_]?key|apikey|credentials?|private[-_]?key|authorization|cookie|signature"
    r"|assertion"
)
# a name that ends in a secret word, or is one of the short secret names; `{0,48}?` keeps the scan linear
_NAME = rf"(?:[\w.-]{{0,48}}?(?:{_WORDS})|key|sig|pwd|pass|jwt|auth|dpop)"
_SECRET_NAME = re.compile(rf"(?i)^{_NAME}$")
_QUERY_NAME = rf"(?:{_NAME}|code)"  # an OAuth authorization code travels as ?code=
_VALUE_END = r"[^&\s#\"'<>,;)\]}]"

_USERINFO = re.compile(r"(?<=://)[^\s/?#@\"'<>]{1,512}@")
_QUERY = re.compile(rf"(?i)(?<![\w.-]){_QUERY_NAME}=({_VALUE_END}*)")
_AUTH_HEADER = re.compile(
    r"(?i)\b((?:proxy-)?authorization|x-api-key|api-key|x-auth-token)(\"?'?\s{0,4}[:=]\s{0,4})"
    r"(?:(bearer|basic|dpop|digest|token)\s{1,4})?([^\s\"',;]{1,8192})"
)
_COOKIE_HEADER = re.compile(r"(?i)\b(set-cookie|cookie)(\"?'?\s{0,4}[:=]\s{0,4})([^\r\n\"']{1,8192})")
_QUOTED_PAIR = re.compile(
    rf"(?i)([\"'])({_NAME})\1(\s{{0,4}}[:,]\s{{0,4}}b?)([\"'])((?:(?!\4)[^\\\n]|\\.){{0,8192}})\4"
)
_SCHEME_CREDENTIAL = re.compile(r"(?i)\b(bearer|basic|dpop|token)(\s{1,4})([A-Za-z0-9\-._~+/]{8,4096}=*)")
_JWT = re.compile(r"\beyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*")
_ENV_SECRET_NAME = re.compile(
    r"(?i)(?:^|_)(?:api_?key|secret|token|password|passwd|pat|credentials?|private_?key)(?:$|_)"
)
_MIN_LITERAL = 8
_SCHEMES = ("bearer", "basic", "dpop", "digest", "token")


class _Literals:
    """Values known to be secret (secret-named environment variables, `add_secret`), replaced wherever they occur."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()

    def add(self, value: str) -> None:
        value = value.strip()
        if len(value) < _MIN_LITERAL or value in self._values:
            return
        with self._lock:
            self._values.add(value)
            ordered = sorted(self._values, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(v) for v in ordered))

    def sub(self, text: str) -> str:
        pattern = self._pattern
        return pattern.sub(MASK, text) if pattern is not None else text


_LITERALS = _Literals()


def add_secret(value: str | None) -> None:
    """Never log this value (a token obtained at run time, a client secret read from a file)."""
    if value:
        _LITERALS.add(value)


def add_environment_secrets(environ: Mapping[str, str] | None = None) -> None:
    """Register the values of secret-named variables (`LIVEKIT_API_SECRET`, `OPENAI_API_KEY`, `GITHUB_TOKEN`, ...)."""
    for name, value in (os.environ if environ is None else environ).items():
        if _ENV_SECRET_NAME.search(name):
            add_secret(value)


def _credential(match: re.Match[str]) -> str:
    scheme, space, token = match.group(1), match.group(2), match.group(3)
    if token.isalpha() and token.islower():  # a plain word ("basic authentication"), not a credential
        return match.group(0)
    return f"{scheme}{space}{MASK}"


def _auth_header(match: re.Match[str]) -> str:
    name, sep, scheme = match.group(1), match.group(2), match.group(3)
    return f"{name}{sep}{scheme + ' ' if scheme else ''}{MASK}"


def _query_value(match: re.Match[str]) -> str:
    if match.group(1).lower() in _SCHEMES:  # `authorization=Bearer ***`: the header pattern already masked it
        return match.group(0)
    return match.group(0)[: match.start(1) - match.start(0)] + MASK


def _quoted_pair(match: re.Match[str]) -> str:
    quote, name, sep, value_quote = match.group(1), match.group(2), match.group(3), match.group(4)
    return f"{quote}{name}{quote}{sep}{value_quote}{MASK}{value_quote}"


MAX_LOGGED_CHARS = 100_000
"""A longer message or field (a whole tool result at DEBUG) is cut here: redacting and printing it costs more than
it tells."""


def redact(text: str) -> str:
    """`text` with every secret-looking part replaced by `***` (linear time; idempotent), cut at MAX_LOGGED_CHARS."""
    if not text:
        return text
    if len(text) > MAX_LOGGED_CHARS:
        head = text[:MAX_LOGGED_CHARS]
        # back up to a space, so a token or URL cut in two is dropped whole rather than shown in part
        space = max(head.rfind(" "), head.rfind("\n"), head.rfind("\t"))
        head = head[:space] if space >= 0 else ""
        text = f"{head} ... ({len(text) - len(head)} more characters not logged)"
    text = _LITERALS.sub(text)
    text = _JWT.sub(MASK, text)
    text = _USERINFO.sub(f"{MASK}@", text)
    text = _QUOTED_PAIR.sub(_quoted_pair, text)
    text = _AUTH_HEADER.sub(_auth_header, text)
    text = _COOKIE_HEADER.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
    text = _QUERY.sub(_query_value, text)
    return _SCHEME_CREDENTIAL.sub(_credential, text)


def is_secret_name(name: object) -> bool:
    """Does a dict key / header name / field name name a secret (`Authorization`, `api_key`, `client_secret`)?"""
    if isinstance(name, bytes):
        name = name.decode("latin-1")
    return isinstance(name, str) and _SECRET_NAME.match(name.strip()) is not None


_MAX_DEPTH = 6
_MAX_ITEMS = 200


def redact_value(value: Any, depth: int = 0) -> Any:
    """A copy of a log field with secrets masked: strings by shape, dict entries and `(name, value)` pairs by name."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, bytes | bytearray):
        return redact(bytes(value).decode("utf-8", "replace"))
    if value is None or isinstance(value, bool | int | float):
        return value
    if depth >= _MAX_DEPTH:
        return redact(repr(value))
    if isinstance(value, Mapping) or hasattr(value, "multi_items"):  # dicts, httpx Headers
        items = list(value.multi_items() if hasattr(value, "multi_items") else value.items())[:_MAX_ITEMS]
        return {
            (k.decode("latin-1") if isinstance(k, bytes) else k): MASK
            if is_secret_name(k) and v is not None
            else redact_value(v, depth + 1)
            for k, v in items
        }
    if isinstance(value, list | tuple | set | frozenset):
        items = list(value)[:_MAX_ITEMS]
        if len(items) == 2 and is_secret_name(items[0]) and not isinstance(items[1], list | tuple | dict):
            return (redact_value(items[0]), MASK)
        cleaned = [redact_value(item, depth + 1) for item in items]
        return tuple(cleaned) if isinstance(value, tuple) else cleaned
    if isinstance(value, BaseException) or type(value).__name__ == "URL":
        return redact(str(value))
    return value


# --- wiring it into logging ---------------------------------------------------------------------------------------

_STANDARD_FIELDS = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}


def _scrub_text_fields(record: logging.LogRecord) -> None:
    """Message (with its args applied), traceback and stack of one record.

    A clean message keeps its args untouched (formatters such as uvicorn's access log unpack them); a message
    with a secret gets its args scrubbed one by one, or is replaced by its scrubbed text when that is not enough.
    """
    try:
        message = record.getMessage()
    except Exception:  # args that don't fit the format: keep both, scrubbed, for the handler to report
        record.msg = redact(str(record.msg))
        record.args = redact_value(record.args) if record.args else record.args
    else:
        clean = redact(message)
        if len(message) > MAX_LOGGED_CHARS:
            record.msg, record.args = clean, None
        elif clean != message:
            if isinstance(record.msg, str) and record.args:
                record.msg, record.args = redact(record.msg), redact_value(record.args)
                try:
                    if redact(record.getMessage()) == record.getMessage():
                        clean = ""
                except Exception:
                    pass
            if clean:
                record.msg, record.args = clean, None
    if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        # formatters use exc_text when exc_info is gone (LiveKit's JSON one re-formats exc_info otherwise)
        record.exc_text, record.exc_info = redact(record.exc_text), None
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


class RedactingFilter(logging.Filter):
    """Scrubs a record's message, args, traceback and `extra` fields before a handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            _scrub_text_fields(record)
            for key, value in list(record.__dict__.items()):
                if key not in _STANDARD_FIELDS and not key.startswith("_"):
                    record.__dict__[key] = MASK if is_secret_name(key) and value else redact_value(value)
        except Exception:  # never let a log line through unscrubbed, never break logging
            record.msg, record.args = "(log record could not be redacted)", None
            record.exc_info, record.exc_text = None, None
        return True


REDACTOR = RedactingFilter()
_factory_installed = False


def _install_record_factory() -> None:
    """Scrub every record at creation, so handlers that others add later (LiveKit's) never see a raw message."""
    global _factory_installed
    if _factory_installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            _scrub_text_fields(record)
        except Exception:
            record.msg, record.args = "(log record could not be redacted)", None
        return record

    logging.setLogRecordFactory(factory)
    _factory_installed = True


def _all_handlers() -> Iterable[logging.Handler]:
    yield from logging.getLogger().handlers
    for logger in list(logging.Logger.manager.loggerDict.values()):
        if isinstance(logger, logging.Logger):
            yield from logger.handlers


def install_redaction() -> None:
    """Redact every record from now on: the record factory, and the filter on every handler there is now."""
    _install_record_factory()
    add_environment_secrets()
    for handler in _all_handlers():
        if REDACTOR not in handler.filters:
            handler.addFilter(REDACTOR)


class _LogFile(logging.FileHandler):
    """`--log-file`: every record at its own level, with time and `extra` fields, redacted; never the terminal."""


class LogFileError(OSError):
    """The log file cannot be opened; the message names it and says why."""


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD_FIELDS and not k.startswith("_")}


class _FileFormatter(logging.Formatter):
    """`2026-12-04 17:57:20,306 INFO voxmcp.mcp.toolset: MCP hub started {"seconds": 0.143, ...}`."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = _extras(record)
        if extras:
            line += " " + json.dumps(extras, default=str, ensure_ascii=False)
        return line


class _ShortExtras(logging.Filter):
    """Cuts long `extra` strings (a sampled stack, a whole payload) for a terminal that shows the conversation.

    Installed only on the terminal handler, which runs after the log file's: the file keeps them whole.
    """

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _extras(record).items():
            if isinstance(value, str) and len(value) > self.limit:
                record.__dict__[key] = value[: self.limit] + f"... ({len(value) - self.limit} more characters)"
        return True


class _OneHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """voxmcp's stderr handler on the root logger, which steps aside once another handler joins the root.

    Why: LiveKit's `console`/`dev`/`start` add their own root handler when they start; printing every record
    through both showed each line twice. This one stays first on the root, so it also prepares the newcomer
    before that handler sees its first record (records forwarded from LiveKit's job processes included, which
    never pass through this process's record factory): the redaction filter, the terminal's level (LiveKit sets
    the root's level, which must stay low enough for the log file), and `_ShortExtras` when asked for.

    Its own level stays NOTSET and `terminal_level` is checked here: a handler level would keep a DEBUG record
    from reaching this method, and so from preparing the newcomer that would print it.
    """

    terminal_level: int = logging.WARNING
    extra_limit: int | None = None

    def _prepare(self, handler: logging.Handler) -> None:
        if REDACTOR not in handler.filters:
            handler.addFilter(REDACTOR)
            if handler.level == logging.NOTSET:
                handler.setLevel(self.terminal_level)
            if self.extra_limit is not None:
                handler.addFilter(_ShortExtras(self.extra_limit))

    def handle(self, record: logging.LogRecord) -> bool:
        others = [
            h
            for h in logging.getLogger().handlers
            if h is not self and not isinstance(h, logging.NullHandler | _LogFile)
        ]
        if not others:
            return record.levelno >= self.terminal_level and bool(super().handle(record))
        for handler in others:
            self._prepare(handler)
        return False


def setup_logging(
    level: str | int | None = None,
    *,
    fmt: str = FORMAT,
    log_file: str | os.PathLike[str] | None = None,
    file_level: str | int | None = None,
    extra_limit: int | None = None,
) -> int:
    """Configure the root logger for an entry point: one terminal handler (stderr), redacted, at `level`.

    `level` defaults to `VOXMCP_LOG_LEVEL` (any case; WARNING when unset); raises LogLevelError for a bad one.
    `log_file` also writes every record at `file_level` (default: `level`) there, with time and extra fields,
    redacted; LogFileError when it cannot be opened. `extra_limit` cuts longer `extra` strings in the terminal
    only. Calling it again does not add a second handler. Returns the root's level (the lower of the two), which
    is what a library that sets the root's level itself (LiveKit's CLI) must be given.
    """
    terminal = parse_level(os.environ.get(LEVEL_ENV) if level is None else level)
    in_file = terminal if file_level is None else parse_level(file_level)
    file_handler: _LogFile | None = None
    if log_file is not None:  # opened first: a file that can't be written changes nothing
        try:
            file_handler = _LogFile(os.fspath(log_file), mode="a", encoding="utf-8")
        except OSError as e:
            raise LogFileError(f"cannot write the log file {os.fspath(log_file)}: {e.strerror or e}.") from None
        file_handler.setLevel(in_file)
        file_handler.setFormatter(_FileFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    handler = next((h for h in root.handlers if isinstance(h, _OneHandler)), None)
    if handler is None:
        handler = _OneHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(fmt))
        root.addHandler(handler)
    handler.terminal_level, handler.extra_limit = terminal, extra_limit
    for old in [h for h in root.handlers if isinstance(h, _LogFile)]:
        root.removeHandler(old)
        old.close()
    resolved = terminal
    if file_handler is not None:
        root.addHandler(file_handler)
        resolved = min(terminal, in_file)
    root.setLevel(resolved)
    install_redaction()
    return resolved
