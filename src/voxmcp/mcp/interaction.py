"""Server-initiated interaction (elicitation, sampling, progress, logs) bridged to plain callables.

The voice layer supplies plain functions (fastmcp style); this module adapts them to the SDK's callback
shapes, applies JSON-schema defaults to accepted elicitation forms (SEP-1034: the SDK leaves that to the
client), and keeps a server's misbehaving handler from breaking the session.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

import mcp.types as types
from mcp.client.session import ClientRequestContext, ElicitationFnT, LoggingFnT, SamplingFnT

logger = logging.getLogger(__name__)

ElicitAction: TypeAlias = Literal["accept", "decline", "cancel"]
ElicitReply: TypeAlias = types.ElicitResult | Mapping[str, Any] | ElicitAction
"""An elicitation handler's answer: an `ElicitResult`, a dict with `action`/`content`, or a bare action."""

ElicitFn: TypeAlias = Callable[[str, str, dict[str, Any]], Awaitable[ElicitReply]]
ElicitUrlFn: TypeAlias = Callable[[str, str, str], Awaitable[ElicitReply]]
SampleFn: TypeAlias = Callable[[str, types.CreateMessageRequestParams], Awaitable[types.CreateMessageResult]]
ProgressFn: TypeAlias = Callable[[str, str, float, float | None, str | None], Awaitable[None] | None]
LogFn: TypeAlias = Callable[[str, str, Any], Awaitable[None] | None]

_LOG_LEVELS: dict[str, int] = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "notice": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
    "alert": logging.CRITICAL,
    "emergency": logging.CRITICAL,
}


@dataclass
class InteractionHandlers:
    """Callables the voice session provides; any left as None gets the safe default.

    Defaults: elicitation is declined (and not advertised when neither `elicit` nor `elicit_url` is set),
    sampling is refused (and not advertised), progress and logs only go to our log.
    """

    elicit: ElicitFn | None = None
    """(server, message, requested_schema) -> ElicitReply. Form mode: ask by voice, fill the schema."""
    elicit_url: ElicitUrlFn | None = None
    """(server, message, url) -> ElicitReply. URL mode: show/log the link, tell the user."""
    sample: SampleFn | None = None
    """(server, params) -> CreateMessageResult, answered by the session's LLM."""
    progress: ProgressFn | None = None
    """(server, tool, progress, total, message) -> None; wrap with `ProgressThrottle` for speech."""
    log: LogFn | None = None
    """(server, level, data) -> None; server log messages (they always reach our own log too)."""

    @property
    def handles_elicitation(self) -> bool:
        return self.elicit is not None or self.elicit_url is not None


async def _maybe_await(value: Awaitable[None] | None) -> None:
    if inspect.isawaitable(value):
        await value


def apply_schema_defaults(content: Mapping[str, Any] | None, schema: Mapping[str, Any]) -> dict[str, Any]:
    """Fill `default` values of the schema's top-level properties that the answer left out (SEP-1034)."""
    filled: dict[str, Any] = dict(content or {})
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        return filled
    for name, spec in properties.items():
        if name not in filled and isinstance(spec, Mapping) and "default" in spec:
            filled[name] = spec["default"]
    return filled


def to_elicit_result(reply: ElicitReply, schema: Mapping[str, Any] | None) -> types.ElicitResult:
    """Normalize a handler's reply; accepted form answers get schema defaults for omitted fields."""
    if isinstance(reply, str):
        if reply not in ("accept", "decline", "cancel"):
            raise ValueError(f"elicitation reply must be accept, decline or cancel, got {reply!r}")
        result = types.ElicitResult(action=reply)
    elif isinstance(reply, types.ElicitResult):
        result = reply
    else:
        result = types.ElicitResult.model_validate(dict(reply))
    if result.action == "accept" and schema is not None:
        return types.ElicitResult(action="accept", content=apply_schema_defaults(result.content, schema))
    if result.action != "accept" and result.content is not None:
        # Content only travels with an accept; a decline must not leak half-filled answers.
        return types.ElicitResult(action=result.action)
    return result


def elicitation_callback(server: str, handlers: InteractionHandlers) -> ElicitationFnT | None:
    """SDK elicitation callback for one server, or None (capability not advertised) without handlers."""
    if not handlers.handles_elicitation:
        return None

    async def callback(
        context: ClientRequestContext, params: types.ElicitRequestParams
    ) -> types.ElicitResult | types.ErrorData:
        try:
            if isinstance(params, types.ElicitRequestURLParams):
                logger.info(
                    "server asks the user to open a link",
                    extra={"mcp_server": server, "url": params.url, "elicitation_id": params.elicitation_id},
                )
                if handlers.elicit_url is None:
                    return types.ElicitResult(action="decline")
                return to_elicit_result(await handlers.elicit_url(server, params.message, params.url), None)
            schema = dict(params.requested_schema)
            if handlers.elicit is None:
                return types.ElicitResult(action="decline")
            return to_elicit_result(await handlers.elicit(server, params.message, schema), schema)
        except Exception as exc:  # boundary: a broken handler must answer the server, not kill the session
            logger.exception("elicitation handler failed", extra={"mcp_server": server})
            return types.ErrorData(code=types.INTERNAL_ERROR, message=f"client could not ask the user: {exc}")

    return callback


def sampling_callback(server: str, handlers: InteractionHandlers, *, allowed: bool) -> SamplingFnT | None:
    """SDK sampling callback under the per-server policy; None (not advertised) when refused."""
    sample = handlers.sample
    if sample is None or not allowed:
        return None

    async def callback(
        context: ClientRequestContext, params: types.CreateMessageRequestParams
    ) -> types.CreateMessageResult | types.CreateMessageResultWithTools | types.ErrorData:
        try:
            return await sample(server, params)
        except Exception as exc:  # boundary: report to the server, keep the session
            logger.exception("sampling handler failed", extra={"mcp_server": server})
            return types.ErrorData(code=types.INTERNAL_ERROR, message=f"client could not sample: {exc}")

    return callback


def logging_callback(server: str, handlers: InteractionHandlers) -> LoggingFnT:
    """Server log messages into our log (level mapped), then to the app's handler if any."""

    async def callback(params: types.LoggingMessageNotificationParams) -> None:
        level = _LOG_LEVELS.get(str(params.level), logging.INFO)
        logger.log(
            level,
            "server log: %s",
            params.data,
            extra={"mcp_server": server, "mcp_logger": params.logger, "mcp_level": str(params.level)},
        )
        if handlers.log is not None:
            try:
                await _maybe_await(handlers.log(server, str(params.level), params.data))
            except Exception:  # boundary: a log sink must never break the session
                logger.exception("log handler failed", extra={"mcp_server": server})

    return callback


async def report_progress(
    handlers: InteractionHandlers,
    server: str,
    tool: str,
    progress: float,
    total: float | None,
    message: str | None,
) -> None:
    """Forward one progress notification to the app's handler, containing its failures."""
    logger.debug(
        "tool progress",
        extra={"mcp_server": server, "tool": tool, "progress": progress, "total": total},
    )
    if handlers.progress is None:
        return
    try:
        await _maybe_await(handlers.progress(server, tool, progress, total, message))
    except Exception:  # boundary: progress is advisory
        logger.exception("progress handler failed", extra={"mcp_server": server, "tool": tool})


class ProgressThrottle:
    """Wraps a progress handler so spoken updates come at a sensible rate.

    Passes the first update, then at most one per `min_interval_s`; the final update (progress == total)
    always passes so the user hears completion. Per (server, tool) so parallel tools don't starve each other.
    """

    def __init__(
        self,
        target: ProgressFn,
        *,
        min_interval_s: float = 4.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if min_interval_s < 0:
            raise ValueError(f"min_interval_s must be >= 0, got {min_interval_s}")
        self._target = target
        self._min_interval_s = min_interval_s
        self._clock = clock
        self._last_sent: dict[tuple[str, str], float] = {}

    def __call__(
        self, server: str, tool: str, progress: float, total: float | None, message: str | None
    ) -> Awaitable[None] | None:
        key = (server, tool)
        now = self._clock()
        last = self._last_sent.get(key)
        final = total is not None and progress >= total
        if last is not None and not final and now - last < self._min_interval_s:
            return None
        self._last_sent[key] = now
        if final:
            self._last_sent.pop(key, None)
        return self._target(server, tool, progress, total, message)


def describe_progress(progress: float, total: float | None, message: str | None) -> str:
    """A short phrase for a progress update: the server's message, else a percentage or a count."""
    if message:
        return message.strip()
    if total:
        return f"{round(100 * progress / total)} percent done"
    return f"{progress:g} steps done"
