"""The turn policy as a LiveKit `llm.LLM` around any other one (the local llama.cpp model, an OpenAI-compatible
endpoint, a cloud API): the same tool-turn behaviour whichever model decides.

    session = AgentSession(llm=TurnPolicyLLM(openai.LLM(model="gpt-4o-mini")), ...)

What it does to each LLM response (LiveKit calls the LLM once per step of a turn):
- **Validate before sending.** Each call's arguments are checked against the tool's JSON Schema (`jsonschema`); an
  invalid call is never sent: the model sees its call and the reasons and tries again, up to `max_repairs`.
- **Repair from the server's error.** When every call of the last step was refused (`isError`, a JSON-RPC error),
  the model gets its call, the error and the tool's parameters, and may correct the call or call another tool first
  (list the allowed directories, then read). After `max_repairs` failed calls, or when the failure left the outcome
  unknown (a dropped connection: at most once), the failure is said in one sentence and nothing is sent again. A call
  identical to one that already failed is not sent again either.
- **Ask, don't guess.** When the calls still lack a required value, one short question asks the user for it.
- **Preamble once.** The first call of a turn is preceded by the preamble ("One moment.") unless something was
  already said; later steps say nothing before their calls.
- **Honesty.** A clause claiming that something was done, saved, sent or deleted is not said unless a call in this
  turn that can change something succeeded (one said before its own call ran is dropped: the answer after the call
  says what happened). A model that claimed an action without calling is asked once more with a call required; if
  it still doesn't call, the user hears that it wasn't done.
- **Answer from what worked.** Once a repaired call succeeded, the failed attempts are left out of what the model
  answers from.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from livekit.agents import llm
from livekit.agents.llm import ChatContext, ChatMessage, FunctionCall, FunctionCallOutput
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, NOT_GIVEN, APIConnectOptions, NotGivenOr
from livekit.agents.utils import shortuuid

from voxmcp.policy import schema as schemas
from voxmcp.policy.honesty import ClaimGuard
from voxmcp.policy.turn import OutcomeOf, Step, Turn
from voxmcp.policy.wording import NOT_DONE, spoken_failure

logger = logging.getLogger(__name__)

REPAIR_NOTE = (
    "(Attempts that did not work:\n{attempts}\n"
    "Parameters of {tool}:\n{hints}\n"
    "{closing} If only I can give a missing value, ask me for it in one short question.)"
)
RETRY_CLOSING = (
    "Make the call again with different, corrected values in the form the parameters ask for, or first call "
    "another tool that finds the right value."
)
CONTINUE_CLOSING = "With the results so far, make the corrected call now, or answer me if they already do."
INVALID_NOTE = "Not sent: the arguments don't match the tool's schema: {errors}."
REPEATED_NOTE = "Not sent: this exact call already failed; change the arguments or use another tool."


@dataclass
class PolicyOptions:
    """The turn policy's knobs; every one has a default that suits a voice agent."""

    preamble: str | None = "One moment."
    max_repairs: int = 2
    """Corrected calls after a refused or invalid one, per turn (each costs an LLM step)."""
    honesty: bool = True
    validate: bool = True
    may_change_things: Callable[[str], bool] | None = None
    """Whether a tool's success can back a claim ("Saved."): False for read-only tools. None: every tool can."""
    outcome_of: OutcomeOf | None = None
    """How a call ended, from whoever ran it (declined by the user, refused, or lost with the connection)."""


@dataclass
class _Response:
    calls: list[llm.FunctionToolCall] = field(default_factory=list)
    held: str = ""
    claims: list[str] = field(default_factory=list)


class TurnPolicyLLM(llm.LLM[Any]):
    """See module doc. Wraps `inner`; forwards its metrics and model name."""

    def __init__(self, inner: llm.LLM[Any], options: PolicyOptions | None = None) -> None:
        super().__init__()
        self.inner = inner
        self.options = options or PolicyOptions()
        if self.options.max_repairs < 0:
            raise ValueError(f"max_repairs must be >= 0, got {self.options.max_repairs}")

    @property
    def model(self) -> str:
        return self.inner.model

    @property
    def provider(self) -> str:
        return self.inner.provider

    def chat(
        self,
        *,
        chat_ctx: ChatContext,
        tools: list[llm.Tool] | None = None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
        parallel_tool_calls: NotGivenOr[bool] = NOT_GIVEN,
        tool_choice: NotGivenOr[llm.ToolChoice] = NOT_GIVEN,
        extra_kwargs: NotGivenOr[dict[str, Any]] = NOT_GIVEN,
    ) -> TurnPolicyStream:
        return TurnPolicyStream(
            self,
            chat_ctx=chat_ctx,
            tools=tools or [],
            conn_options=conn_options,
            parallel_tool_calls=parallel_tool_calls,
            tool_choice=tool_choice,
            extra_kwargs=extra_kwargs,
        )

    async def aclose(self) -> None:
        await self.inner.aclose()

    def prewarm(self, *, loop: Any = None) -> None:
        self.inner.prewarm(loop=loop)


class TurnPolicyStream(llm.LLMStream):
    def __init__(
        self,
        policy: TurnPolicyLLM,
        *,
        chat_ctx: ChatContext,
        tools: list[llm.Tool],
        conn_options: APIConnectOptions,
        parallel_tool_calls: NotGivenOr[bool],
        tool_choice: NotGivenOr[llm.ToolChoice],
        extra_kwargs: NotGivenOr[dict[str, Any]],
    ) -> None:
        # the inner LLM retries its own connection errors; a second layer of retries would repeat whole turns
        super().__init__(policy, chat_ctx=chat_ctx, tools=tools, conn_options=conn_options)
        self._policy = policy
        self._opts = policy.options
        self._parallel = parallel_tool_calls
        self._tool_choice = tool_choice
        self._extra = extra_kwargs
        self._request_id = shortuuid("policy_")
        self._said = False

    async def _run(self) -> None:
        opts = self._opts
        turn = Turn.of(self._chat_ctx, opts.outcome_of)
        params = schemas.tool_parameters(self._tools)
        ctx = self._chat_ctx
        tool_choice = self._tool_choice
        can_call = bool(self._tools) and tool_choice != "none"
        last = turn.last_step
        ends_with_outputs = bool(last) and isinstance(self._chat_ctx.items[-1], FunctionCallOutput)
        attempts: list[tuple[str, str, str]] = []
        base, closing = ctx, RETRY_CLOSING
        if ends_with_outputs and all(s.failed for s in last):
            lost = [s for s in last if s.outcome == "lost"]
            if lost or not can_call or turn.failures > opts.max_repairs:
                logger.info(
                    "tool turn ends with a failure",
                    extra={
                        "failures": turn.failures,
                        "unknown_outcome": bool(lost),
                        "tools": [s.call.name for s in last],
                    },
                )
                self._say(spoken_failure([_output_text(s) for s in last]))
                return
            attempts = [_attempt(s) for s in turn.steps if s.failed]
            base = _without_failed_steps(ctx, turn)
            logger.info("repairing a refused call", extra={"tool": last[0].call.name, "attempt": turn.failures})
        elif ends_with_outputs and turn.failures:
            # a repaired call worked: answer from what worked. Another tool worked (the allowed directories after
            # "access denied"): the failed call may now be made right
            base = _without_failed_steps(ctx, turn)
            unresolved = turn.unresolved()
            if unresolved and can_call and turn.failures <= opts.max_repairs:
                attempts = [_attempt(s) for s in unresolved]
                closing = CONTINUE_CLOSING
                logger.info("continuing a repair", extra={"tool": unresolved[-1].call.name})
        ctx = _with_repair_note(base, attempts, params, closing) if attempts else base
        repairs_left = opts.max_repairs - turn.failures
        required_after_claim = False
        while True:
            # asked again for the call it claimed: whatever it says instead is not said
            response = await self._respond(ctx, tool_choice, turn, quiet=required_after_claim)
            if response.claims and not response.calls:
                if can_call and not turn.steps and not required_after_claim:
                    # the model said it did something without calling anything: ask it for the call itself
                    logger.info("unbacked action claim; asking for the call", extra={"claims": response.claims})
                    required_after_claim = True
                    tool_choice = "required"
                    continue
                logger.warning("unbacked action claim withheld", extra={"claims": response.claims})
                self._say(NOT_DONE)
                return
            if not response.calls:
                if required_after_claim:
                    self._say(NOT_DONE)
                return
            problems = self._problems(response.calls, params, turn)
            if not problems:
                if opts.preamble and not self._said and not turn.steps:
                    self._say(opts.preamble + " ")
                if response.held:  # a claim made before the call ran ("I've saved it"): the answer will say
                    logger.info("claim before its call withheld", extra={"claims": response.claims})
                self._emit_calls(response.calls)
                return
            if repairs_left <= 0 or not can_call:
                self._say(_give_up(problems, params, turn))
                return
            repairs_left -= 1
            attempts += [(c.name, c.arguments, reason) for c, reason in problems]
            ctx = _with_repair_note(base, attempts, params, RETRY_CLOSING)
            logger.info(
                "call rejected before sending",
                extra={"calls": [c.name for c, _ in problems], "errors": [e for _, e in problems]},
            )

    async def _respond(
        self,
        ctx: ChatContext,
        tool_choice: NotGivenOr[llm.ToolChoice],
        turn: Turn,
        *,
        quiet: bool = False,
    ) -> _Response:
        """Run the inner LLM once: text goes out through the honesty guard as it streams (`quiet`: none goes out);
        calls are collected."""
        opts = self._opts
        backed = not opts.honesty or bool(turn.succeeded(opts.may_change_things))
        guard = ClaimGuard(backed=backed and not quiet, quiet=quiet, reported=bool(turn.succeeded()))
        response = _Response()
        extra = self._extra
        async with self._policy.inner.chat(
            chat_ctx=ctx,
            tools=list(self._tools),
            conn_options=self._conn_options,
            parallel_tool_calls=self._parallel,
            tool_choice=tool_choice,
            extra_kwargs=extra,
        ) as stream:
            async for chunk in stream:
                if chunk.usage is not None:
                    self._event_ch.send_nowait(llm.ChatChunk(id=self._request_id, usage=chunk.usage))
                delta = chunk.delta
                if delta is None:
                    continue
                if delta.content:
                    if self._repeats_preamble(delta.content, turn):
                        continue
                    self._say(guard.feed(delta.content))
                if delta.tool_calls:
                    response.calls.extend(delta.tool_calls)
        self._say(guard.flush())
        response.held, response.claims = guard.held, guard.claims
        return response

    def _repeats_preamble(self, text: str, turn: Turn) -> bool:
        """An LLM that says the preamble itself (the local one, as soon as it decides to call) says it on every step;
        the user hears it once, before the turn's first call."""
        preamble = (self._opts.preamble or "").strip()
        return bool(preamble) and text.strip() == preamble and (bool(turn.steps) or self._said)

    def _problems(
        self, calls: list[llm.FunctionToolCall], params: dict[str, dict[str, Any]], turn: Turn
    ) -> list[tuple[llm.FunctionToolCall, str]]:
        found = []
        for call in calls:
            try:
                arguments = json.loads(call.arguments or "{}")
            except ValueError:
                found.append((call, "the arguments are not valid JSON"))
                continue
            schema = params.get(call.name)
            if schema is None:
                continue  # not a tool on offer: LiveKit answers that itself ("unknown function")
            if isinstance(arguments, dict) and turn.already_tried(call.name, arguments):
                found.append((call, REPEATED_NOTE))
                continue
            errors = schemas.validation_errors(arguments, schema) if self._opts.validate else []
            if errors:
                found.append((call, INVALID_NOTE.format(errors="; ".join(errors))))
        return found

    def _say(self, text: str) -> None:
        if text:
            self._said = True
            self._event_ch.send_nowait(
                llm.ChatChunk(id=self._request_id, delta=llm.ChoiceDelta(role="assistant", content=text))
            )

    def _emit_calls(self, calls: list[llm.FunctionToolCall]) -> None:
        self._event_ch.send_nowait(
            llm.ChatChunk(id=self._request_id, delta=llm.ChoiceDelta(role="assistant", tool_calls=calls))
        )


def _attempt(step: Step) -> tuple[str, str, str]:
    """(tool, arguments JSON, what the server said) of a failed call, as the repair note lists it."""
    return step.call.name, step.call.arguments, _output_text(step)


def _output_text(step: Step) -> str:
    return (step.output.output if step.output is not None else "").strip()


def _with_repair_note(
    ctx: ChatContext, attempts: list[tuple[str, str, str]], params: dict[str, dict[str, Any]], closing: str
) -> ChatContext:
    """The context a model corrects a call from: the request, with a note after it that lists the attempts that
    failed (call and error) and the tool's parameters. The failed calls are described, not left in the history as
    calls: a small model copies a call it sees ("Paris" again after "no time zone found with key Paris"). A note on
    the user's side, not a system turn: a small model reads a late system turn out."""
    name = attempts[-1][0]
    lines = "\n".join(f"- {tool}({_short(arguments)}): {error or 'failed'}" for tool, arguments, error in attempts)
    note = REPAIR_NOTE.format(
        attempts=lines, tool=name, hints=schemas.parameter_hints(params.get(name, {})) or "(none)", closing=closing
    )
    fixed = ctx.copy()
    for i in range(len(fixed.items) - 1, -1, -1):
        item = fixed.items[i]
        if isinstance(item, ChatMessage) and item.role == "user" and (item.text_content or "").strip():
            request = (item.text_content or "").strip()
            # the request's transcript confidence goes with it: it tells the model the words were heard, not typed
            noted = ChatMessage(
                role="user", content=[f"{request}\n{note}"], transcript_confidence=item.transcript_confidence
            )
            if i == len(fixed.items) - 1:
                fixed.items[i] = noted.model_copy(update={"id": item.id})
            else:  # the note goes last, after the calls that worked
                fixed.items.append(noted)
            break
    return fixed


def _short(arguments: str, limit: int = 300) -> str:
    text = " ".join((arguments or "{}").split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _without_failed_steps(ctx: ChatContext, turn: Turn) -> ChatContext:
    """The context without this turn's failed calls and their outputs (a repaired call succeeded after them)."""
    failed = {s.call.call_id for s in turn.steps if s.failed}
    fixed = ctx.copy()
    fixed.items[:] = [
        item
        for item in fixed.items
        if not (isinstance(item, FunctionCall | FunctionCallOutput) and item.call_id in failed)
    ]
    return fixed


def _give_up(problems: list[tuple[llm.FunctionToolCall, str]], params: dict[str, dict[str, Any]], turn: Turn) -> str:
    """After the last allowed correction: ask for a required value the calls still lack, else say what failed (for a
    call that already failed, what the server said then)."""
    for call, _ in problems:
        try:
            arguments = json.loads(call.arguments or "{}")
        except ValueError:
            arguments = {}
        schema = params.get(call.name, {})
        missing = schemas.missing_required(arguments, schema)
        if missing:
            return schemas.question_for(missing[0], schema)
    call, reason = problems[0]
    if reason == REPEATED_NOTE:
        earlier = [_output_text(s) for s in turn.steps if s.failed and s.call.name == call.name]
        return spoken_failure(earlier[-1:])
    detail = reason.split(": ", 1)[-1] if reason.startswith("Not sent") else reason
    return f"Sorry, I couldn't make a valid {call.name.replace('_', ' ')} request: {detail}"
