"""The one exception type demo tools raise for a failure a caller can fix (its text is spoken aloud)."""

from __future__ import annotations

from mcp.server.mcpserver.exceptions import ToolError


class DemoToolError(ToolError):
    """A failure the caller anticipated: the message is one short sentence a voice can say."""
