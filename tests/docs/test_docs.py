"""The pages in docs/ are sequences of commands a user types: run each page's ```bash blocks, in order, in one
shell, in an empty folder, and check what a reader is told they will see.

The only changes made to a page's commands are the substitutions listed per page below (fixed ports -> free
ports, a checkout-relative script -> its absolute path), so that a page runs next to other tests; each one
must occur in the page, so a page that drifts from its test fails here.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
BIN = Path(sys.executable).parent
BLOCK = re.compile(r"^```bash\n(.*?)^```", re.S | re.M)


def free_port(kind: int = socket.SOCK_STREAM) -> str:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return str(sock.getsockname()[1])


def commands(page: str) -> list[str]:
    return BLOCK.findall((DOCS / page).read_text())


def substitute(script: str, replacements: dict[str, str]) -> str:
    """Each key replaced where it stands alone (`7880`, not the `7880` inside `17880`), in one pass."""
    for key in replacements:
        assert re.search(rf"(?<![\w.]){re.escape(key)}(?!\w)", script), f"{key!r} no longer occurs in the page"
    pattern = re.compile("|".join(rf"(?<![\w.]){re.escape(k)}(?!\w)" for k in replacements))
    return pattern.sub(lambda m: replacements[m.group(0)], script)


def run_page(page: str, replacements: dict[str, str], workdir: Path, *, timeout_s: float) -> str:
    """The page's commands as one `set -euo pipefail` script; everything it started is killed afterwards."""
    script = "set -euo pipefail\n" + substitute("\n".join(commands(page)), replacements)
    (workdir / "page.sh").write_text(script)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VOXMCP_", "LIVEKIT_"))}
    env.update(PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}", HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        ["bash", str(workdir / "page.sh")],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        pytest.fail(f"{page} did not finish within {timeout_s:.0f}s; its output:\n{out[-6000:]}")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # background servers the page left behind
    print(f"\n[{page}]\n{out[-4000:]}")
    assert proc.returncode == 0, f"{page} failed ({proc.returncode}):\n{out[-6000:]}"
    return out


def test_every_page_is_run_by_a_test() -> None:
    pages = sorted(p.name for p in DOCS.glob("*.md"))
    assert pages == sorted(RUNNERS), "a page in docs/ without a test here, or a test without its page"
    for page in pages:
        assert commands(page), f"{page} has no ```bash block"


@pytest.mark.e2e
def test_own_mcp_server(tmp_path: Path) -> None:
    out = run_page("own-mcp-server.md", {"8765": free_port()}, tmp_path, timeout_s=600)
    assert "bakery: connected (stdio" in out and "bakery: connected (streamable-http" in out
    assert "opening_hours: When the bakery is open on a day of the week" in out
    assert "On Sunday the bakery is open 8 AM to 1 PM." in out
    assert "The bakery is closed on Monday." in out
    # by voice: the spoken question reached the server's tool and the answer was spoken
    assert re.search(r'^tool:\s+opening_hours\(\{"day": "[Ss]unday"\}\) -> \[ok\] On Sunday', out, re.M), out
    assert re.search(r"^agent:\s+\S", out, re.M)
    assert (tmp_path / "answer.wav").stat().st_size > 10_000


@pytest.mark.e2e
@pytest.mark.skipif(
    importlib.util.find_spec("fastapi") is None, reason="llama-cpp-python[server] is not installed (make test-deps)"
)
def test_openai_compatible_llm(tmp_path: Path) -> None:
    out = run_page("openai-compatible-llm.md", {"8080": free_port(), "8932": free_port()}, tmp_path, timeout_s=600)
    assert '"id":"qwen"' in out
    assert "demo: connected (streamable-http" in out
    assert re.search(r"^agent:\s+\S", out, re.M), out
    served = re.findall(r"^(\d+)$", out, re.M)
    assert served and int(served[-1]) >= 1  # the answer came from the endpoint


def _livekit_available() -> bool:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "voxmcp" / "bin"
    built = any(cache.glob("livekit-server-*")) or shutil.which("go") is not None
    return built and shutil.which("redis-server") is not None


@pytest.mark.livekit
@pytest.mark.skipif(not _livekit_available(), reason="needs scripts/livekit/install.sh (LiveKit server, Redis)")
def test_livekit_deploy(tmp_path: Path) -> None:
    udp = socket.SOCK_DGRAM
    replacements = {
        "scripts/livekit/install.sh": str(REPO / "scripts" / "livekit" / "install.sh"),
        "6379": free_port(),
        "7880": free_port(),
        "7882": free_port(udp),
        "7890": free_port(),
        "7892": free_port(udp),
        "8933": free_port(),
    }
    out = run_page("livekit-deploy.md", replacements, tmp_path, timeout_s=600)
    workers = re.findall(r"^(AW_[A-Za-z0-9]+)$", out, re.M)
    assert len(set(workers)) == 2, out
    assert "rooms seen through node b: ['support-1']" in out
    served = re.search(r"^agent in support-1: agent-AJ_\w+ from worker (AW_[A-Za-z0-9]+)$", out, re.M)
    assert served and served.group(1) in workers, out
    # the cluster's secret is in the node configs, and in no worker log (stdout or --log-file)
    secret = re.search(r"^  voxmcp: (\S+)$", (tmp_path / "livekit-a.yaml").read_text(), re.M)
    assert secret
    for name in ("worker-a.log", "worker-a.out", "worker-b.log", "worker-b.out"):
        text = (tmp_path / name).read_text()
        assert text and secret.group(1) not in text
    assert "registered worker" in (tmp_path / "worker-a.log").read_text()


RUNNERS: dict[str, Callable[[Path], None]] = {
    "own-mcp-server.md": test_own_mcp_server,
    "openai-compatible-llm.md": test_openai_compatible_llm,
    "livekit-deploy.md": test_livekit_deploy,
}
