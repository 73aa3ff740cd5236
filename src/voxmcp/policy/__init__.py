"""The turn policy: how a tool turn goes whichever LLM decides it (validate, repair, ask, preamble, honesty).

    from voxmcp.policy import TurnPolicyLLM
    session = AgentSession(llm=TurnPolicyLLM(openai.LLM(...)), ...)

or, in an existing `Agent`, `class MyAgent(TurnPolicyMixin, Agent)` applies it in `llm_node`.
It depends only on LiveKit and `jsonschema`: every rule comes from the tools' JSON Schemas, the servers' errors and
the conversation, never from a particular tool.
"""

from voxmcp.policy.agent import TurnPolicyMixin
from voxmcp.policy.llm import PolicyOptions, TurnPolicyLLM
from voxmcp.policy.turn import Outcome, Turn

__all__ = ["Outcome", "PolicyOptions", "Turn", "TurnPolicyLLM", "TurnPolicyMixin"]
