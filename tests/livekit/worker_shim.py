"""`voxmcp <args>` with the worker options several workers on one small host need, set from the environment.

voxmcp.app builds `AgentServer()` with livekit-agents' production defaults, which break two workers on one
2-core machine: the health server on port 8081 of every interface (the second worker dies with "address in
use"), one prewarmed process per core with a 10 s prewarm timeout (model loading takes longer here), and a
load that is the machine's CPU (busy shared cores make LiveKit see both workers as full and drop jobs).
This shim sets, before the CLI runs:
  - a free health port on 127.0.0.1 (only while app.py leaves the port at its default);
  - VOXMCP_WORKER_MAX_JOBS=N: load = running jobs / N, full at N (sessions per worker, not host CPU);
  - VOXMCP_WORKER_IDLE=N: prewarmed idle processes; VOXMCP_WORKER_INIT_TIMEOUT=S: prewarm timeout.
"""

from __future__ import annotations

import os
import sys

from livekit.agents import AgentServer
from livekit.agents.worker import ServerEnvOption


def configure(server: AgentServer) -> None:
    if isinstance(getattr(server, "_port", None), ServerEnvOption):
        server._port = 0  # no public setter; see module docstring
        server._host = "127.0.0.1"
    max_jobs = int(os.environ.get("VOXMCP_WORKER_MAX_JOBS", "0"))
    if max_jobs > 0:

        def load(srv: AgentServer) -> float:
            return min(1.0, len(srv.active_jobs) / max_jobs)

        server.load_fnc = load
        server.update_options(load_threshold=0.999)
    idle = os.environ.get("VOXMCP_WORKER_IDLE")
    if idle is not None:
        server.update_options(num_idle_processes=int(idle))
    server.update_options(initialize_process_timeout=float(os.environ.get("VOXMCP_WORKER_INIT_TIMEOUT", "120")))


def main() -> None:
    from voxmcp import app as voxapp
    from voxmcp.cli import main as voxmcp_main

    configure(voxapp.server)
    sys.argv = ["voxmcp", *sys.argv[1:]]
    voxmcp_main()


if __name__ == "__main__":
    main()
