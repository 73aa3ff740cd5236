"""How MCP tool calls behave in a spoken conversation; the voice layer's one entry point for the app.

    policies = VoicePolicies(lambda: runtime.session, llm=models.llm, confirm_destructive=True, filler=True)
    hub = MCPHub(servers, handlers=policies.handlers(), ...)
    agent_tools = policies.wrap_tools(hub.function_tools(), hub)

`handlers()` answers the servers' elicitation (form and URL mode) by voice and speaks progress.
`wrap_tools()` makes each tool call: ask before a destructive call, say a filler once when the call is slow,
cancel the MCP request when the user barges in, and host the dialogs (elicitation) its server starts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import mcp.types as types
from livekit.agents import AgentSession, RunContext, llm
from livekit.agents.llm import RawFunctionTool, ToolError, function_tool
from livekit.agents.llm.utils import prepare_function_arguments

from voxmcp.mcp import ElicitReply, InteractionHandlers, LogFn, MCPCallError, MCPHub, SampleFn, ToolInfo
from voxmcp.policy import Outcome
from voxmcp.voice import confirm, elicit
from voxmcp.voice.calls import ActiveCalls, DialogRequest, ToolCallScope
from voxmcp.voice.dialog import DialogScript, DialogTask
from voxmcp.voice.progress import SpokenProgress
from voxmcp.voice.sampling import sample_with_llm

logger = logging.getLogger(__name__)

T = TypeVar("T")
SessionGetter = Callable[[], AgentSession[Any] | None]
LinkSink = Callable[[str, str, str], None]

INTERRUPTED_RESULT = "Stopped: the user interrupted."
CLOSED_RESULT = "Stopped: the conversation ended before the call finished."
_META_CALL = "call_tool"
_CANCEL_WAIT_S = 5.0
_OUTCOMES_KEPT = 256


def _reply_spoke(handle: Any) -> bool:
    """Whether the reply that made a tool call already said something aloud before the call."""
    return any(
        isinstance(item, llm.ChatMessage) and item.role == "assistant" and bool(item.text_content)
        for item in handle.chat_items
    )


def _closing(session: Any) -> bool:
    """Whether the session is closing (LiveKit 1.8 has no public flag; a session without one is not)."""
    probe = getattr(session, "_is_closing", None)
    return bool(probe()) if callable(probe) else False


def print_link(server: str, message: str, url: str) -> None:
    """Default way to show a URL-mode elicitation's link: on the terminal, where the user can click it."""
    print(f"\n[{server}] {message.strip() or 'Please open this link'}:\n  {url}\n", flush=True)


class VoicePolicies:
    """See module doc. One instance per conversation (it tracks that conversation's running tool calls)."""

    def __init__(
        self,
        session_getter: SessionGetter,
        *,
        llm: llm.LLM[Any] | None = None,
        confirm_destructive: bool = True,
        filler: bool = True,
        filler_text: str = "One moment.",
        filler_delay_s: float = 0.7,
        progress_interval_s: float = 4.0,
        progress_first_after_s: float = 1.0,
        answer_timeout_s: float = 8.0,
        show_link: LinkSink = print_link,
    ) -> None:
        for name, value in (("filler_delay_s", filler_delay_s), ("answer_timeout_s", answer_timeout_s)):
            if value <= 0:
                raise ValueError(f"{name} must be > 0, got {value}")
        if not filler_text.strip():
            raise ValueError("filler_text must not be empty")
        self._session_getter = session_getter
        self._llm = llm
        self.confirm_destructive = confirm_destructive
        self.filler = filler
        self.filler_text = filler_text
        self.filler_delay_s = filler_delay_s
        self.answer_timeout_s = answer_timeout_s
        self._show_link = show_link
        self.calls = ActiveCalls()
        self._outcomes: dict[str, Outcome] = {}
        self.progress = SpokenProgress(
            session_getter, self.calls, min_interval_s=progress_interval_s, first_after_s=progress_first_after_s
        )
        self._dialogs: set[DialogTask[Any]] = set()
        self.on_dialog_line: Callable[[str, str], None] | None = None
        """Called with ("agent" | "user", text) for each line of a dialog (questions aren't chat messages)."""
        self.fillers_said = 0
        self.cancelled_by_user = 0
        """Tool calls cancelled because the user barged in (for logs, benchmarks and tests)."""

    # ---- integration surface ------------------------------------------------------------------------

    def handlers(self, *, sample: SampleFn | None = None, log: LogFn | None = None) -> InteractionHandlers:
        """Interaction handlers for `MCPHub(handlers=...)`: voice elicitation, spoken progress, and sampling by
        the session's LLM (given one; each server still has to allow it with `sampling = true`)."""
        if sample is None and self._llm is not None:
            sample = self.sample
        return InteractionHandlers(
            elicit=self.elicit, elicit_url=self.elicit_url, sample=sample, progress=self.progress, log=log
        )

    async def sample(self, server: str, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
        """A server's sampling request, answered by the session's LLM in a context of its own."""
        if self._llm is None:
            raise RuntimeError("no LLM to answer sampling requests with")
        logger.info("sampling request", extra={"mcp_server": server, "messages": len(params.messages)})
        return await sample_with_llm(self._llm, params)

    def wrap_tools(self, tools: Sequence[llm.Tool | llm.Toolset], hub: MCPHub | None) -> list[llm.Tool | llm.Toolset]:
        """The same tools with the voice policies around each raw function tool (others pass unchanged)."""
        return [self._wrap(tool, hub) if isinstance(tool, RawFunctionTool) else tool for tool in tools]

    # ---- elicitation --------------------------------------------------------------------------------

    async def elicit(self, server: str, message: str, requested_schema: dict[str, Any]) -> ElicitReply:
        """Form-mode elicitation asked by voice; "cancel" when there is no conversation to ask in."""
        fill = elicit.llm_filler(self._llm)

        async def script(asker: Any) -> types.ElicitResult:
            return await elicit.elicit_form(asker, message, requested_schema, fill_llm=fill)

        result = await self.run_dialog(script, server=server, label="elicit")
        if result is None:
            return "cancel"
        logger.info("elicitation answered", extra={"mcp_server": server, "action": result.action})
        return result

    async def elicit_url(self, server: str, message: str, url: str) -> ElicitReply:
        """URL-mode elicitation: the link is shown and logged, never spoken; the user is told and asked."""
        logger.info("showing an elicitation link", extra={"mcp_server": server, "url": url})
        self._show_link(server, message, url)

        async def script(asker: Any) -> types.ElicitResult:
            return await elicit.elicit_url(asker, message, url)

        result = await self.run_dialog(script, server=server, label="elicit_url")
        if result is None:
            session = self._session_getter()
            if session is not None:
                session.say(f"{message.strip()} I've shown the link on your screen.".strip(), add_to_chat_ctx=False)
            return "cancel"
        return result

    async def run_dialog(self, script: DialogScript[T], *, server: str | None, label: str) -> T | None:
        """Run a dialog with the user on the right tool call's task; None when no call can host it."""
        here = ActiveCalls.current()
        if here is not None:
            return await self._dialog_on(here, script, label)
        scope = self.calls.find(server)
        if scope is None:
            logger.warning("no running tool call to ask the user from", extra={"mcp_server": server, "dialog": label})
            return None
        request = DialogRequest(script=script, label=label)
        scope.requests.put_nowait(request)
        result: T | None = await request.result
        return result

    @property
    def busy(self) -> bool:
        """A tool call is running or a dialog holds the conversation: the agent's turn is not over."""
        return bool(self._dialogs) or len(self.calls) > 0

    @property
    def awaiting_answer(self) -> bool:
        """A dialog has asked its question and waits for the user's answer (a scripted user speaks now)."""
        return any(task.awaiting_answer for task in self._dialogs)

    async def _dialog_on(self, scope: ToolCallScope, script: DialogScript[T], label: str) -> T | None:
        scope.in_dialog = True
        task: DialogTask[T] = DialogTask(
            script, answer_timeout_s=self.answer_timeout_s, label=label, on_line=self.on_dialog_line
        )
        self._dialogs.add(task)
        try:
            result: T | None = await task
            return result
        except ToolError as e:  # LiveKit cancels the task when the session closes (or hands over) mid-dialog
            logger.info("dialog ended before an answer", extra={"dialog": label, "reason": str(e)})
            return None
        except Exception as e:  # boundary: a dialog that can't start must not break the call (nothing is done)
            logger.warning("dialog failed to run: %s", e, extra={"dialog": label})
            logger.debug("dialog failure", exc_info=True, extra={"dialog": label})
            return None
        finally:
            self._dialogs.discard(task)
            scope.in_dialog = False

    # ---- tool calls ---------------------------------------------------------------------------------

    def _wrap(self, tool: RawFunctionTool[..., Any], hub: MCPHub | None) -> RawFunctionTool[..., Any]:
        raw_schema = dict(tool.info.raw_schema)
        name = str(raw_schema.get("name", ""))

        async def voiced_call(raw_arguments: dict[str, object], context: RunContext[Any]) -> Any:
            return await self._run_tool(tool, name, raw_arguments, context, hub)

        return function_tool(voiced_call, raw_schema=raw_schema, flags=tool.info.flags)

    @staticmethod
    def _target(
        hub: MCPHub | None, name: str, arguments: Mapping[str, Any]
    ) -> tuple[ToolInfo | None, Mapping[str, Any]]:
        """The MCP tool a call reaches (through `call_tool` in search mode too) and its arguments."""
        if hub is None:
            return None, arguments
        if name == _META_CALL:
            inner = arguments.get("arguments")
            inner_args = inner if isinstance(inner, Mapping) else {}
            try:
                return hub.tool_info(str(arguments.get("name", ""))), inner_args
            except KeyError:
                return None, inner_args
        try:
            return hub.tool_info(name), arguments
        except KeyError:
            return None, arguments

    async def _run_tool(
        self,
        tool: RawFunctionTool[..., Any],
        name: str,
        raw_arguments: dict[str, object],
        context: RunContext[Any],
        hub: MCPHub | None,
    ) -> Any:
        call_id = context.function_call.call_id
        try:
            result = await self._run_tool_once(tool, name, raw_arguments, context, hub)
        except ToolError as e:
            self._record(call_id, _failure_outcome(e))
            raise
        declined = result in (confirm.DECLINED_RESULT, confirm.NO_ANSWER_RESULT)
        self._record(call_id, "declined" if declined else "done")
        return result

    def outcome_of(self, call: llm.FunctionCall, output: llm.FunctionCallOutput) -> Outcome | None:
        """How a call this conversation ran ended (for the turn policy: a declined call backs no claim, a lost one
        is never repaired); None for calls it didn't run."""
        return self._outcomes.get(call.call_id)

    def _record(self, call_id: str, outcome: Outcome) -> None:
        self._outcomes[call_id] = outcome
        while len(self._outcomes) > _OUTCOMES_KEPT:
            self._outcomes.pop(next(iter(self._outcomes)))

    async def _run_tool_once(
        self,
        tool: RawFunctionTool[..., Any],
        name: str,
        raw_arguments: dict[str, object],
        context: RunContext[Any],
        hub: MCPHub | None,
    ) -> Any:
        info, arguments = self._target(hub, name, raw_arguments)
        server = info.server if info is not None else ""
        scope = ToolCallScope(server=server, tool=info.name if info else name, exposed_name=name, context=context)
        if info is not None and info.destructive and self.confirm_destructive:
            action = confirm.describe_call(info.exposed_name or info.name, arguments)

            async def ask(asker: Any) -> confirm.Decision:
                return await confirm.ask_confirmation(asker, action)

            decision = await self._dialog_on(scope, ask, "confirm")
            logger.info("destructive call confirmation", extra={"tool": name, "decision": decision})
            if decision == "silence" or decision is None:
                return confirm.NO_ANSWER_RESULT
            if decision != "yes":
                return confirm.DECLINED_RESULT
        args, kwargs = prepare_function_arguments(fnc=tool, json_arguments=raw_arguments, call_ctx=context)
        with self.calls.track(scope):
            call = asyncio.create_task(tool(*args, **kwargs), name=f"voxmcp-call-{name}")
            try:
                async with self._filler(scope, context, call):
                    return await self._serve(scope, call, context)
            finally:
                if not call.done():
                    call.cancel()
                    await asyncio.wait({call}, timeout=_CANCEL_WAIT_S)

    async def _serve(self, scope: ToolCallScope, call: asyncio.Task[Any], context: RunContext[Any]) -> Any:
        """Wait for the call; host dialogs its server asks for; cancel it if the user barges in."""
        handle = context.speech_handle
        while True:
            next_request = asyncio.ensure_future(scope.requests.get())
            either = asyncio.ensure_future(asyncio.wait({call, next_request}, return_when=asyncio.FIRST_COMPLETED))
            try:
                await handle.wait_if_not_interrupted([either])
            finally:
                either.cancel()
                if not next_request.done():
                    next_request.cancel()
            request = next_request.result() if next_request.done() and not next_request.cancelled() else None
            if handle.interrupted and not call.done():
                if request is not None:
                    request.result.set_result(None)
                call.cancel()
                await asyncio.wait({call}, timeout=_CANCEL_WAIT_S)
                if _closing(context.session):  # the conversation ended (talk's end, a hang-up): nobody barged in
                    logger.info("tool call cancelled: the session closed", extra={"tool": scope.exposed_name})
                    raise ToolError(CLOSED_RESULT)
                self.cancelled_by_user += 1
                logger.info("tool call cancelled: the user interrupted", extra={"tool": scope.exposed_name})
                raise ToolError(INTERRUPTED_RESULT)
            if request is not None:
                result = await self._dialog_on(scope, request.script, request.label)
                if not request.result.done():
                    request.result.set_result(result)
                continue
            if call.done():
                if call.cancelled():  # cancelled from elsewhere (session closing): a result, not a crash
                    raise ToolError("The call was cancelled.")
                return call.result()

    @asynccontextmanager
    async def _filler(
        self, scope: ToolCallScope, context: RunContext[Any], call: asyncio.Task[Any]
    ) -> AsyncIterator[None]:
        """Say the filler once when the call is still running after `filler_delay_s` of silence, unless the
        model's own words at the call decision (a tool preamble) already told the user to wait."""
        if not self.filler:
            yield
            return

        def source(_step: int) -> Any:
            session = context.session
            if call.done() or scope.in_dialog or scope.spoke or session.user_state == "speaking":
                return None
            if _reply_spoke(context.speech_handle):
                return None  # the model already said something at the call decision ("One moment.")
            scope.spoke = True
            self.fillers_said += 1
            logger.debug("filler", extra={"tool": scope.exposed_name, "after_s": round(scope.elapsed_s, 2)})
            return session.say(self.filler_text, add_to_chat_ctx=False)

        async with context.with_filler(source, delay=self.filler_delay_s):
            yield


def _failure_outcome(error: ToolError) -> Outcome:
    """`refused` when the tool or server said no (no effect happened: a corrected call is safe), else `lost`: a
    transport failure, a timeout or an interruption, after which nothing is sent again."""
    cause = error.__cause__
    if isinstance(cause, MCPCallError):
        return "refused" if cause.reason == "refused" else "lost"
    if str(error) in (INTERRUPTED_RESULT, CLOSED_RESULT, "The call was cancelled."):
        return "lost"
    return "refused"
