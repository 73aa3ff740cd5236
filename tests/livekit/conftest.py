"""Fixtures: a real LiveKit dev node on loopback, and a two-node cluster sharing Redis; always torn down."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from livekit_servers import (
    LiveKitCluster,
    LiveKitNode,
    livekit_binary,
    redis_binary,
    run_livekit_cluster,
    run_livekit_node,
)

NO_LIVEKIT = (
    "LiveKit server binary not built: run scripts/livekit/install.sh (go install of livekit-server v1.13.5)"
)
NO_REDIS = "redis-server not installed: run scripts/livekit/install.sh (apt-get install redis-server)"


@pytest.fixture(scope="session")
def livekit_bin() -> Path:
    binary = livekit_binary()
    if binary is None:
        pytest.skip(NO_LIVEKIT)
    return binary


@pytest.fixture
def livekit_node(livekit_bin: Path, tmp_path: Path) -> Iterator[LiveKitNode]:
    """One dev node (keys devkey/secret) on free loopback ports."""
    with run_livekit_node(tmp_path) as node:
        yield node


@pytest.fixture
def livekit_cluster(livekit_bin: Path, tmp_path: Path) -> Iterator[LiveKitCluster]:
    """Two nodes sharing a throwaway Redis on loopback."""
    if redis_binary() is None:
        pytest.skip(NO_REDIS)
    with run_livekit_cluster(tmp_path, node_count=2) as cluster:
        yield cluster
