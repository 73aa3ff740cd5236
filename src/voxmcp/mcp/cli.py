"""`voxmcp mcp ...`: inspect and call the configured MCP servers."""

import typer

app = typer.Typer(help="Inspect and call the configured MCP servers.", no_args_is_help=True)
