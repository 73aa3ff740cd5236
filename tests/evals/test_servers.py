"""Suite servers: fresh per-run state for server-memory and server-filesystem, and (integration) that every tool the
cross-server suite expects is one its real servers expose."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from voxmcp.evals import servers as servers_mod
from voxmcp.evals.schema import ExpectedCall, Scenario, Suite, load_suite, parse_suite
from voxmcp.evals.servers import ServerPool, ServerStartError
from voxmcp.mcp.toolset import MCPHub

EVALS = Path(__file__).resolve().parents[2] / "evals"

SUITE = {
    "servers": {
        "memory": {
            "kind": "memory",
            "entities": [{"name": "Anna", "entityType": "person", "observations": ["lives in Lisbon"]}],
            "relations": [{"from": "Tom", "to": "Anna", "relationType": "knows"}],
        },
        "files": {"kind": "filesystem", "files": {"shopping.txt": "eggs\n", "notes/meeting.md": "Thursday"}},
    },
    "scenarios": [{"name": "s", "servers": ["memory", "files"], "turns": ["hi"]}],
}


@pytest.fixture
def fake_node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A node_modules tree with both entry scripts, and a `node` on PATH (the configs only name them)."""
    root = tmp_path / "node_modules"
    for package in ("server-memory", "server-filesystem"):
        entry = root / "@modelcontextprotocol" / package / "dist" / "index.js"
        entry.parent.mkdir(parents=True)
        entry.write_text("// entry")
    monkeypatch.setenv("VOXMCP_NODE_MODULES", str(root))
    monkeypatch.setattr(servers_mod.shutil, "which", lambda exe: f"/usr/bin/{exe}")
    return root


def test_memory_and_sandbox_are_seeded_fresh_for_every_run(tmp_path: Path, fake_node: Path) -> None:
    suite = parse_suite(SUITE)
    pool = ServerPool(dict(suite.servers), tmp_path / "work")
    first = asyncio.run(pool.configs(["memory", "files"]))
    memory_file = Path(first["memory"].env["MEMORY_FILE_PATH"])
    sandbox = Path(first["files"].args[-1])
    assert first["memory"].command == "/usr/bin/node"
    assert first["memory"].args[0].endswith("server-memory/dist/index.js")
    rows = [json.loads(line) for line in memory_file.read_text().splitlines()]
    assert rows == [
        {"type": "entity", "name": "Anna", "entityType": "person", "observations": ["lives in Lisbon"]},
        {"type": "relation", "from": "Tom", "to": "Anna", "relationType": "knows"},
    ]
    assert (sandbox / "notes" / "meeting.md").read_text() == "Thursday"
    (sandbox / "ideas.txt").write_text("written by the first run")  # what a scenario's write_file leaves behind

    second = asyncio.run(pool.configs(["memory", "files"]))
    sandbox2 = Path(second["files"].args[-1])
    assert sandbox2 != sandbox and sorted(p.name for p in sandbox2.iterdir()) == ["notes", "shopping.txt"]
    assert Path(second["memory"].env["MEMORY_FILE_PATH"]) != memory_file
    assert pool.state_dirs["files"] == sandbox2.parent


def test_missing_reference_server_says_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOXMCP_NODE_MODULES", str(tmp_path / "none"))
    pool = ServerPool(dict(parse_suite(SUITE).servers), tmp_path / "work")
    with pytest.raises(ServerStartError, match=r"server 'memory': .* is missing; run tests/mcp/node/install.sh"):
        asyncio.run(pool.configs(["memory"]))


# ---- integration: the real servers ---------------------------------------------------------------------------


def _tools(call: ExpectedCall) -> set[str]:
    if call.one_of is not None:
        return set().union(*(_tools(alt) for alt in call.one_of))
    assert call.tool is not None
    return {call.tool}


def referenced_tools(sc: Scenario) -> set[str]:
    """Every tool a scenario names: expected, forbidden and allowed calls, and tools whose results facts quote."""
    e = sc.expect
    names: set[str] = set(e.allow_calls)
    for call in [*e.calls, *e.no_calls]:
        names |= _tools(call)
    names |= {f.from_tool.tool for f in e.facts if f.from_tool is not None}
    return names


async def _exposed_tools(suite: Suite, workdir: Path) -> dict[str, set[str]]:
    pool = ServerPool(dict(suite.servers), workdir)
    try:
        exposed: dict[str, set[str]] = {}
        for name in suite.servers:
            hub = MCPHub(await pool.configs([name]), connect_timeout_s=30.0)
            try:
                statuses = await asyncio.wait_for(hub.start(keep_trying=False), timeout=60)
                assert statuses[0].state == "connected", f"{name}: {statuses[0].error}"
                exposed[name] = {info.name for info in hub.tool_infos()}
            finally:
                await hub.aclose()
        return exposed
    finally:
        await pool.aclose()


@pytest.mark.integration
@pytest.mark.timeout(180)
def test_cross_server_scenarios_name_tools_their_servers_expose(tmp_path: Path) -> None:
    if shutil.which("node") is None or not servers_mod.node_server_entry("server-memory").is_file():
        pytest.skip("the npm reference servers are not installed (tests/mcp/node/install.sh)")
    suite = load_suite(EVALS / "cross_server.yaml")
    exposed = asyncio.run(_exposed_tools(suite, tmp_path))
    assert {"get_current_time", "convert_time"} <= exposed["time"]
    assert {"create_entities", "search_nodes"} <= exposed["memory"]
    assert {"read_text_file", "list_allowed_directories"} <= exposed["files"]
    for sc in suite.scenarios:
        offered = set().union(*(exposed[s] for s in sc.servers))
        unknown = referenced_tools(sc) - offered
        assert not unknown, f"{sc.name}: {sorted(unknown)} not offered by {sc.servers}"


# the calls a correct agent would make for the cross-server write scenarios (paths relative to the sandbox)
RIGHT_CALLS: dict[str, list[tuple[str, dict[str, object]]]] = {
    "xs-memory-remember-birthday": [
        ("create_entities", {"entities": [{"name": "Carlos", "entityType": "person", "observations": ["June 12"]}]})
    ],
    "xs-memory-remember-existing-person": [
        ("add_observations", {"observations": [{"entityName": "Tom", "contents": ["is allergic to shellfish"]}]})
    ],
    "xs-memory-remember-relation": [
        ("create_relations", {"relations": [{"from": "Anna", "to": "Tom", "relationType": "wife of"}]})
    ],
    "xs-memory-forget": [("delete_entities", {"entityNames": ["Biscuit"]})],
    "xs-files-write-new": [("write_file", {"path": "ideas.txt", "content": "Paint the fence blue."})],
    "xs-files-append-shopping": [
        ("edit_file", {"path": "shopping.txt", "edits": [{"oldText": "coffee beans", "newText": "beans\nbread"}]})
    ],
}


async def _state_after(suite: Suite, scenario: Scenario, workdir: Path, act: bool) -> dict[str, str | None]:
    pool = ServerPool(dict(suite.servers), workdir)
    hub = MCPHub(await pool.configs(scenario.servers), connect_timeout_s=30.0)
    try:
        await asyncio.wait_for(hub.start(keep_trying=False), timeout=60)
        for tool, args in RIGHT_CALLS[scenario.name] if act else []:
            await hub.call(tool, args)
    finally:
        await hub.aclose()
        await pool.aclose()
    return {c.key: pool.state_text(c.server, c.file) for c in scenario.expect.state}


@pytest.mark.integration
@pytest.mark.timeout(180)
def test_state_checks_pass_after_the_right_calls_and_fail_before(tmp_path: Path) -> None:
    from voxmcp.evals.scoring import state_failures

    if shutil.which("node") is None or not servers_mod.node_server_entry("server-memory").is_file():
        pytest.skip("the npm reference servers are not installed (tests/mcp/node/install.sh)")
    suite = load_suite(EVALS / "cross_server.yaml")
    for sc in suite.scenarios:
        if sc.name not in RIGHT_CALLS:
            continue
        before = asyncio.run(_state_after(suite, sc, tmp_path / f"{sc.name}-before", act=False))
        after = asyncio.run(_state_after(suite, sc, tmp_path / f"{sc.name}-after", act=True))
        assert state_failures(sc.expect.state, before), f"{sc.name}: the seed state already passes"
        assert state_failures(sc.expect.state, after) == [], f"{sc.name}: {after}"
