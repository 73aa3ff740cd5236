"""voxmcp: a voice agent that is an MCP client, on LiveKit Agents, running offline on local models.

The public API, for a LiveKit agent of your own:

    import voxmcp
    from voxmcp.plugins import llm, stt, tts, vad

    session = AgentSession(
        vad=vad.SileroVAD.load(), stt=stt.WhisperSTT(), llm=llm.LlamaCppLLM(), tts=tts.HibariTTS(),
        tools=[voxmcp.MCPToolset.from_config("voxmcp.toml")],
    )

- `MCPToolset`: MCP servers as a LiveKit toolset (`from_config`, `from_dict`, `from_mcp_json`).
- `MCPServerConfig`: one server (url or command, auth, allow/deny lists, timeouts).
- `MCPHub`, `ServerStatus`, `ToolInfo`: the MCP layer under the toolset.
- `VoicePolicies`: confirmation, elicitation by voice, spoken progress, filler, barge-in cancellation.
- `TurnPolicyLLM`, `TurnPolicyMixin`, `PolicyOptions`: the turn policy for any LLM (validate calls against their
  schemas, repair from the server's error, ask for a missing value, preamble once, no unbacked claims).
- `Settings`, `load_settings`, `ConfigError`: voxmcp.toml.
- `voxmcp.plugins.{stt,llm,tts,vad}`: the local models as LiveKit plugins.

Names load on first use (`__getattr__`), so `import voxmcp` does not load LiveKit, llama.cpp or whisper.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from voxmcp.config import ConfigError, Settings, load_settings
    from voxmcp.mcp.config import MCPServerConfig
    from voxmcp.mcp.toolset import MCPHub, ServerStatus, ToolInfo
    from voxmcp.policy import PolicyOptions, TurnPolicyLLM, TurnPolicyMixin
    from voxmcp.toolset import MCPToolset
    from voxmcp.voice import VoicePolicies

_EXPORTS: dict[str, str] = {
    "MCPToolset": "voxmcp.toolset",
    "MCPServerConfig": "voxmcp.mcp.config",
    "MCPHub": "voxmcp.mcp.toolset",
    "ServerStatus": "voxmcp.mcp.toolset",
    "ToolInfo": "voxmcp.mcp.toolset",
    "VoicePolicies": "voxmcp.voice",
    "TurnPolicyLLM": "voxmcp.policy",
    "TurnPolicyMixin": "voxmcp.policy",
    "PolicyOptions": "voxmcp.policy",
    "Settings": "voxmcp.config",
    "load_settings": "voxmcp.config",
    "ConfigError": "voxmcp.config",
}
"""Public name -> the module that defines it (imported when the name is first used)."""

__all__ = [
    "ConfigError",
    "MCPHub",
    "MCPServerConfig",
    "MCPToolset",
    "PolicyOptions",
    "ServerStatus",
    "Settings",
    "ToolInfo",
    "TurnPolicyLLM",
    "TurnPolicyMixin",
    "VoicePolicies",
    "__version__",
    "load_settings",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'voxmcp' has no attribute {name!r}")
    # The MCP layer's errors are worded by the voice layer (it registers itself on import): a user of the public
    # API gets the same spoken sentences as the app, whichever name they take first.
    importlib.import_module("voxmcp.voice.wording")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
