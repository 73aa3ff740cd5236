"""The agent's own account of a scenario: its decision logs (tool picks rejected, retries, ungrounded values).

Why: an eval failure reads "missing call get_weather" while the cause is in the model layer ("city='Paris' was not
said", "the output was cut off inside a string"). Those INFO records are kept per scenario in the report, so a
failure can be understood without re-running it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence

from voxmcp.logs import REDACTOR

AGENT_LOGGERS = ("voxmcp.models.llm", "voxmcp.policy", "voxmcp.voice", "voxmcp.mcp.toolset")
"""Where the decisions are logged: the local LLM's call decoding, voice policies and the MCP hub."""
MAX_RECORDS = 200
# attributes every LogRecord has: what is left over is what the caller passed as `extra`
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime", "taskName"}


class _Collect(logging.Handler):
    """Keeps INFO and above; passes on to the root logger's handlers what would have reached them anyway."""

    def __init__(self, sink: list[str], limit: int, passed_on: dict[str, int]) -> None:
        super().__init__(logging.INFO)
        self.sink = sink
        self.limit = limit
        self.passed_on = passed_on

    def emit(self, record: logging.LogRecord) -> None:
        top = next((n for n in self.passed_on if record.name == n or record.name.startswith(n + ".")), None)
        if top is not None and record.levelno >= self.passed_on[top]:
            logging.getLogger().handle(record)
        if len(self.sink) >= self.limit:
            return
        extra = {k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")}
        line = f"{record.name.rsplit('.', 1)[-1]}: {record.getMessage()}"
        self.sink.append(f"{line} {extra}" if extra else line)


@contextlib.contextmanager
def agent_log(
    sink: list[str], *, loggers: Sequence[str] = AGENT_LOGGERS, limit: int = MAX_RECORDS
) -> Iterator[list[str]]:
    """Collect INFO and above from `loggers` into `sink` (at most `limit` lines) while the block runs."""
    # the loggers are opened to INFO for the handler and stop propagating, so the console doesn't fill with INFO
    # lines; what they let through before (their effective level and above) is passed on to the root's handlers
    passed_on = {name: logging.getLogger(name).getEffectiveLevel() for name in loggers}
    handler = _Collect(sink, limit, passed_on)
    handler.addFilter(REDACTOR)  # the lines end up in reports on disk: no secrets there either
    saved: list[tuple[logging.Logger, int, bool]] = []
    for name in loggers:
        log = logging.getLogger(name)
        saved.append((log, log.level, log.propagate))
        log.setLevel(min(passed_on[name], logging.INFO))
        log.propagate = False
        log.addHandler(handler)
    try:
        yield sink
    finally:
        for log, level, propagate in saved:
            log.removeHandler(handler)
            log.setLevel(level)
            log.propagate = propagate
