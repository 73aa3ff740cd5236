"""`voxmcp models ...`: list, verify and assemble the pinned local model files."""

import typer

app = typer.Typer(help="List, verify and assemble local model files.", no_args_is_help=True)
