"""Every voxmcp process that speaks loads the voice layer's wording of MCP failures (voxmcp.voice.wording hands it
to the MCP layer); the tests do the same, so `str(exc)` of an MCP error is the sentence a user hears."""

import voxmcp.voice.wording  # noqa: F401
