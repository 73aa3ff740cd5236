"""`python -m voxmcp.evals SUITE.yaml` (the same as `voxmcp eval`)."""

import logging
import os

from voxmcp.evals.cli import app

logging.basicConfig(level=os.environ.get("VOXMCP_LOG_LEVEL", "WARNING"), format="%(levelname)s %(name)s: %(message)s")
app()
