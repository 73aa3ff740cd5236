"""`python -m voxmcp.evals SUITE.yaml` (the same as `voxmcp eval`)."""

import sys

from voxmcp.evals.cli import app
from voxmcp.logs import LogLevelError, setup_logging

try:
    setup_logging()
except LogLevelError as e:
    sys.exit(f"config error: {e}")
app()
