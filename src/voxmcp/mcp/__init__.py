"""voxmcp's MCP client layer on the official `mcp` SDK.

config (server table, `mcpServers` JSON, `${ENV}`) -> connection (one server: transport, handshake, reconnect,
timeouts, cancellation) -> toolset (`MCPHub`: every server as LiveKit tools) -> results (speakable text);
interaction bridges elicitation, sampling, progress and logs to the voice session; auth holds OAuth.
"""
