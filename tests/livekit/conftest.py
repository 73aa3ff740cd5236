"""Fixtures: a real LiveKit dev node on loopback, and a two-node cluster sharing Redis; always torn down."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from livekit_servers import (
    LiveKitCluster,
    LiveKitNode,
    livekit_binary,
    pad_wav,
    redis_binary,
    run_livekit_cluster,
    run_livekit_node,
)

NO_LIVEKIT = "LiveKit server binary not built: run scripts/livekit/install.sh (go install of livekit-server v1.13.5)"
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


NODE_DIR = Path(__file__).parent / "node"
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="session")
def browser_driver() -> Path:
    """drive_page.mjs, or a skip naming what is missing."""
    if not CHROMIUM.exists():
        pytest.skip("chromium not installed: run scripts/livekit/install_browser.sh (apt-get install chromium)")
    if not (NODE_DIR / "node_modules" / "playwright-core").is_dir():
        pytest.skip("playwright-core missing: run scripts/livekit/install_browser.sh (npm ci in tests/livekit/node)")
    return NODE_DIR / "drive_page.mjs"


@pytest.fixture
def espeak_wav(tmp_path: Path) -> Callable[[str], Path]:
    """Synthesize a question with espeak-ng (a voice that is not the agent's)."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed (apt-get install espeak-ng)")

    def make(text: str, *, leading_silence_s: float = 0.5) -> Path:
        raw = tmp_path / f"q-{abs(hash(text))}-raw.wav"
        subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(raw), text], check=True, timeout=30)
        out = tmp_path / f"q-{abs(hash(text))}.wav"
        pad_wav(raw, out, leading_silence_s=leading_silence_s, trailing_silence_s=1.0)
        return out

    return make
