"""The README's layer picture, enforced: `lint-imports` checks the contracts in pyproject.toml.

Imports inside functions and under TYPE_CHECKING count. The second test breaks a copy of the package in the ways
the contracts forbid and checks that each break is caught, so the first test can fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    """Run lint-imports on the package under root/src with root/pyproject.toml's contracts."""
    env = {**os.environ, "PYTHONPATH": str(root / "src")}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(root / "pyproject.toml")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_layers_only_look_down() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


# (file to edit, line to append, the contract that must break)
BREAKS = [
    pytest.param(
        "voxmcp/mcp/results.py",
        "def _up() -> None:\n    import voxmcp.audio.wav  # noqa\n",
        "the MCP layer knows nothing about audio",
        id="mcp-imports-audio-inside-a-function",
    ),
    pytest.param(
        "voxmcp/models/llm.py",
        "from voxmcp.mcp import MCPHub  # noqa\n",
        "voxmcp.models is not allowed to import voxmcp.mcp",
        id="models-import-mcp",
    ),
    pytest.param(
        "voxmcp/voice/confirm.py",
        "from voxmcp.mcp.connection import MCPCallError  # noqa\n",
        "voxmcp.voice is not allowed to import voxmcp.mcp.connection",
        id="voice-imports-mcp-internals",
    ),
    pytest.param(
        "voxmcp/mcp/cli.py",
        "from typing import TYPE_CHECKING as _TC\nif _TC:\n    from voxmcp.config import Settings  # noqa\n",
        "voxmcp.mcp is not allowed to import voxmcp.config",
        id="mcp-imports-app-config-under-type-checking",
    ),
    pytest.param(
        "voxmcp/talk.py",
        "import voxmcp.testing  # noqa\n",
        "voxmcp.talk is not allowed to import voxmcp.testing",
        id="product-imports-testing",
    ),
    pytest.param(
        "voxmcp/evals/report.py",
        "import voxmcp.bench.summary  # noqa\n",
        "voxmcp.evals is not allowed to import voxmcp.bench",
        id="evals-imports-bench",
    ),
    pytest.param(
        "voxmcp/mcp/config.py",
        "def _cycle() -> None:\n    import voxmcp.mcp.auth.build  # noqa\n",
        "No cycles are allowed in voxmcp.mcp",
        id="cycle-inside-mcp",
    ),
]


@pytest.mark.parametrize(("path", "line", "message"), BREAKS)
def test_each_forbidden_import_is_caught(tmp_path: Path, path: str, line: str, message: str) -> None:
    shutil.copytree(ROOT / "src" / "voxmcp", tmp_path / "src" / "voxmcp", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / "src" / path
    target.write_text(target.read_text() + "\n\n" + line)
    result = _lint(tmp_path)
    assert result.returncode != 0, result.stdout + result.stderr
    assert message in " ".join(result.stdout.split()), result.stdout
