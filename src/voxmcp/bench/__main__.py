"""`python -m voxmcp.bench` (the same as `voxmcp bench`)."""

from voxmcp.bench.cli import app

app()
