"""The voice layer: how MCP interaction sounds in a conversation.

Confirmation before destructive tools, elicitation asked by voice, spoken progress, a filler for slow
calls, and barge-in cancelling the running MCP request. `VoicePolicies` is the app's one entry point.
"""

from voxmcp.voice import wording  # noqa: F401  (hands the MCP layer its wording: str(exc) is the sentence)
from voxmcp.voice.policies import VoicePolicies

__all__ = ["VoicePolicies"]
