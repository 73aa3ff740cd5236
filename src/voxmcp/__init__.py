"""voxmcp: a voice agent that is an MCP client, on LiveKit Agents, running offline on local models."""

__version__ = "0.1.0"
