"""The demo-server command line: options reach `run`, bad values are refused, it mounts under a parent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from voxmcp.demo import cli


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    monkeypatch.setattr(cli, "run", lambda **kwargs: seen.append(kwargs))
    return seen


def test_options_reach_the_server(runs: list[dict[str, Any]], tmp_path: Path) -> None:
    args = [
        "--port",
        "9123",
        "--db",
        str(tmp_path / "n.db"),
        "--audit-log",
        str(tmp_path / "a.jsonl"),
        "--faults",
    ]
    result = CliRunner().invoke(cli.app, args)
    assert result.exit_code == 0, result.output
    assert runs == [
        {
            "host": "127.0.0.1",
            "port": 9123,
            "db_path": tmp_path / "n.db",
            "audit_log": tmp_path / "a.jsonl",
            "faults": True,
            "slow_step_s": 1.0,
        }
    ]


def test_defaults_and_mounting_under_a_parent(runs: list[dict[str, Any]]) -> None:
    parent = typer.Typer()
    parent.add_typer(cli.app, name="demo-server")

    @parent.command()
    def other() -> None:
        """A second command, as the real voxmcp app has."""

    result = CliRunner().invoke(parent, ["demo-server"])
    assert result.exit_code == 0, result.output
    assert runs == [
        {
            "host": "127.0.0.1",
            "port": 8931,
            "db_path": None,
            "audit_log": None,
            "faults": False,
            "slow_step_s": 1.0,
        }
    ]


def test_bad_port_is_refused(runs: list[dict[str, Any]]) -> None:
    result = CliRunner().invoke(cli.app, ["--port", "70000"])
    assert result.exit_code != 0
    assert "--port" in result.output
    assert runs == []
