"""`python -m voxmcp.bench` (the same as `voxmcp bench`)."""

import sys

from voxmcp.bench.cli import app
from voxmcp.logs import LogLevelError, setup_logging

try:
    setup_logging()
except LogLevelError as e:
    sys.exit(f"config error: {e}")
app()
