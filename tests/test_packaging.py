"""Packaging: `python -m build` makes an sdist and a wheel; the wheel installs into a fresh venv outside the repo
(with its real dependencies) and, from a folder outside the repo, `voxmcp models assemble` and `voxmcp talk` answer
a spoken question through the installed demo server.

The fresh venv gets the same versions as the dev venv (a constraints file from its `pip freeze`), so pip takes
llama-cpp-python from its wheel cache instead of compiling it again (~20 min on 2 cores).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1800)]

REPO = Path(__file__).resolve().parents[1]
PACKAGE_DATA = (
    "voxmcp/py.typed",
    "voxmcp/web/static/index.html",
    "voxmcp/web/static/app.js",
    "voxmcp/web/static/style.css",
    "voxmcp/web/static/livekit-client.umd.js",
    "voxmcp/web/static/livekit-client.LICENSE",
    "voxmcp/demo/data/weather.csv",
)


def _run(argv: list[str | Path], *, timeout_s: float, **kwargs: object) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=timeout_s, **kwargs)  # type: ignore[call-overload]
    assert done.returncode == 0, f"{argv[:3]} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done  # type: ignore[no-any-return]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the demo server exited: {log.read_text()[-2000:]}"
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"the demo server did not listen on {port} within {timeout_s} s: {log.read_text()[-2000:]}")


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment without anything that points back at the repo or its venv."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "VOXMCP_CONFIG")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if not p.startswith(str(REPO)))
    return {**env, "HF_HUB_OFFLINE": "1", **extra}


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "build", "--outdir", out, REPO], timeout_s=600, cwd=REPO)
    return out


@pytest.fixture(scope="module")
def fresh_venv(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A venv outside the repo with the wheel installed (dependencies resolved by pip, pinned like the dev venv)."""
    root = tmp_path_factory.mktemp("fresh")
    assert REPO not in root.parents
    venv = root / "venv"
    base_python = Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    _run([base_python, "-m", "venv", venv], timeout_s=120)
    freeze = _run([sys.executable, "-m", "pip", "freeze", "--exclude-editable"], timeout_s=120).stdout
    pins = [
        line for line in freeze.splitlines() if line and not line.startswith(("-e", "voxmcp")) and " @ " not in line
    ]
    constraints = root / "constraints.txt"
    constraints.write_text("\n".join(pins) + "\n")
    links = root / "links"  # wheels pip built before (llama-cpp-python): found here, not compiled again
    links.mkdir()
    cached = _run([sys.executable, "-m", "pip", "cache", "list", "--format=abspath"], timeout_s=60).stdout.split()
    for wheel in cached:
        if wheel.endswith(".whl"):
            shutil.copy(wheel, links)
    (wheel,) = dist.glob("voxmcp-*.whl")
    began = time.monotonic()
    _run(
        [venv / "bin" / "python", "-m", "pip", "install", "--find-links", links, "-c", constraints, wheel],
        timeout_s=1500,
        cwd=root,
        env=_clean_env(),
    )
    install_s = time.monotonic() - began
    print(f"\nfresh-venv install of {wheel.name}: {install_s:.0f} s", file=sys.stderr)
    yield venv


def test_build_makes_an_sdist_and_a_wheel_with_the_package_data(dist: Path) -> None:
    (wheel,) = dist.glob("voxmcp-*-py3-none-any.whl")
    (sdist,) = dist.glob("voxmcp-*.tar.gz")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert set(PACKAGE_DATA) <= names, set(PACKAGE_DATA) - names
    assert "voxmcp/plugins/stt.py" in names and "voxmcp/toolset.py" in names
    assert not any(name.startswith(("tests/", "examples/")) for name in names)
    print(f"\nwheel {wheel.name}: {wheel.stat().st_size / 1024:.0f} KiB; sdist {sdist.stat().st_size / 1024:.0f} KiB")


def test_the_installed_package_is_the_wheel_with_its_data(fresh_venv: Path) -> None:
    probe = (
        "import json, voxmcp\nfrom importlib import resources\n"
        "root = resources.files('voxmcp')\n"
        f"print(json.dumps({{'file': voxmcp.__file__, 'data': [p for p in {list(PACKAGE_DATA)!r} "
        "if not root.joinpath(p.removeprefix('voxmcp/')).is_file()]}))"
    )
    out = _run([fresh_venv / "bin" / "python", "-c", probe], timeout_s=60, cwd=fresh_venv, env=_clean_env())
    found = json.loads(out.stdout)
    assert Path(found["file"]).is_relative_to(fresh_venv), found["file"]  # not the repo's source tree
    assert found["data"] == [], f"missing from the installed package: {found['data']}"


def test_assemble_and_talk_from_outside_the_repo(fresh_venv: Path, tmp_path: Path) -> None:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (make test installs it)")
    work = tmp_path / "work"
    work.mkdir()
    env = _clean_env(VOXMCP_CACHE_DIR=str(tmp_path / "models"))  # assembled from this venv's packages, not reused
    voxmcp = fresh_venv / "bin" / "voxmcp"
    _run([voxmcp, "models", "assemble"], timeout_s=600, cwd=work, env=env)
    assert (tmp_path / "models" / "qwen2.5-coder-0.5b").is_dir()

    port = _free_port()
    audit = work / "audit.jsonl"
    demo_argv = [voxmcp, "demo-server", "--port", port, "--db", work / "notes.db", "--audit-log", audit]
    with (work / "demo.log").open("w") as log:
        demo = subprocess.Popen([str(a) for a in demo_argv], cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
    _wait_for_port(port, demo, work / "demo.log")
    try:
        (work / "voxmcp.toml").write_text(f'[mcp.servers.demo]\nurl = "http://127.0.0.1:{port}/mcp"\n')
        _run(
            ["espeak-ng", "-v", "en-us", "-s", "150", "-w", work / "q.wav", "What is the weather in Tokyo?"],
            timeout_s=60,
        )
        talk = [voxmcp, "talk", "--input", "q.wav", "--output", "a.wav", "--json", "out.json", "--timeout", "120"]
        _run(talk, timeout_s=600, cwd=work, env=env)
    finally:
        demo.terminate()
        demo.wait(timeout=10)
    calls = [json.loads(line) for line in audit.read_text().splitlines() if line.strip()]
    assert [c["tool"] for c in calls] == ["get_weather"] and calls[0]["arguments"]["city"].lower() == "tokyo"
    result = json.loads((work / "out.json").read_text())
    assert result["errors"] == []
    assert calls[0]["result"].split(",")[1].strip() in " ".join(result["agent_transcript"])  # "15 degrees Celsius"
    assert (work / "a.wav").stat().st_size > 10_000
