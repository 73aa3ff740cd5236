"""The turn policy in an existing LiveKit `Agent`, through `llm_node` (LiveKit's hook for exactly this).

    class MyAgent(TurnPolicyMixin, Agent):
        policy_options = PolicyOptions(preamble="Let me check.")

The session's own LLM is used, wrapped for each response; nothing else about the agent changes. Toolsets that know
how their calls ended and which tools are read-only (`voxmcp.MCPToolset`: `outcome_of`, `may_change_things`) are
asked, unless the options already say.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any, ClassVar

from livekit.agents import llm
from livekit.agents.types import NOT_GIVEN
from livekit.agents.voice import ModelSettings

from voxmcp.policy.llm import PolicyOptions, TurnPolicyLLM
from voxmcp.policy.turn import Outcome


class TurnPolicyMixin:
    """Put before `Agent` in the bases. `policy_options` may be set on the class or the instance."""

    policy_options: ClassVar[PolicyOptions] = PolicyOptions()
    _policy_llm: TurnPolicyLLM | None = None

    async def llm_node(
        self, chat_ctx: llm.ChatContext, tools: list[llm.Tool], model_settings: ModelSettings
    ) -> AsyncIterator[llm.ChatChunk]:
        session: Any = getattr(self, "session")  # noqa: B009  (the Agent's property; the mixin has none)
        inner = session.llm
        if isinstance(inner, TurnPolicyLLM):  # already applied at the session: once is enough
            policy = inner
        else:
            if self._policy_llm is None or self._policy_llm.inner is not inner:
                self._policy_llm = TurnPolicyLLM(inner, _with_toolset_facts(self.policy_options, self))
            policy = self._policy_llm
        tool_choice = model_settings.tool_choice if model_settings else NOT_GIVEN
        async with policy.chat(
            chat_ctx=chat_ctx, tools=tools, tool_choice=tool_choice, conn_options=session.conn_options.llm_conn_options
        ) as stream:
            async for chunk in stream:
                yield chunk


def _with_toolset_facts(options: PolicyOptions, agent: Any) -> PolicyOptions:
    sources = [t for t in getattr(agent, "tools", []) if callable(getattr(t, "outcome_of", None))]
    if not sources:
        return options

    def outcome_of(call: llm.FunctionCall, output: llm.FunctionCallOutput) -> Outcome | None:
        for source in sources:
            found: Outcome | None = source.outcome_of(call, output)
            if found is not None:
                return found
        return None

    def may_change_things(tool: str) -> bool:
        for source in sources:
            found = source.may_change_things(tool)
            if found is not None:
                return bool(found)
        return True

    return replace(
        options,
        outcome_of=options.outcome_of or outcome_of,
        may_change_things=options.may_change_things or may_change_things,
    )
