"""voxmcp.MCPToolset in a real AgentSession (scripted STT/LLM/TTS, in-process MCP servers): LiveKit's toolset
shape and lifecycle, calls through the voice policies, barge-in cancellation, tool-list changes reaching the next
turn, stand-ins for down servers, and the three ways to build one."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from livekit.agents import Agent, AgentSession, FunctionToolsExecutedEvent, llm
from livekit.agents.llm.async_toolset import AsyncToolset
from mcp.client._memory import InMemoryTransport

from voxmcp.config import ConfigError
from voxmcp.mcp.config import MCPConfigError, MCPServerConfig
from voxmcp.toolset import MCPToolset

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE / "voice"))
sys.path.insert(0, str(HERE / "mcp"))

from fakes import (  # noqa: E402
    SAMPLE_RATE_OUT,
    RecordingTTS,
    ScriptedLLM,
    ScriptedSTT,
    SilentAudioInput,
    ToolCallReply,
    eventually,
)
from mcp_test_servers import build_server  # noqa: E402
from mcp_test_support import free_port  # noqa: E402
from voice_servers import ServerLog, build_voice_server  # noqa: E402

from voxmcp.audio.file_io import RecordingAudioOutput  # noqa: E402

pytestmark = pytest.mark.timeout(60)

MEMORY = MCPServerConfig.model_validate({"url": "http://in-memory/mcp", "protocol": "legacy"})


class ToolRecordingLLM(ScriptedLLM):
    """A ScriptedLLM that also records the tool names each request offered."""

    def __init__(self, replies: list[Any]) -> None:
        super().__init__(replies=replies)
        self.offered: list[set[str]] = []

    def chat(self, *, chat_ctx: llm.ChatContext, tools: list[llm.Tool] | None = None, **kwargs: Any) -> llm.LLMStream:
        self.offered.append({t.info.name for t in tools or [] if isinstance(t, llm.RawFunctionTool)})
        return super().chat(chat_ctx=chat_ctx, tools=tools, **kwargs)


@dataclass
class Talk:
    session: AgentSession[None]
    stt: ScriptedSTT
    llm: ToolRecordingLLM
    tts: RecordingTTS
    toolset: MCPToolset
    outputs: list[llm.FunctionCallOutput]

    async def wait_output(self, count: int = 1) -> llm.FunctionCallOutput:
        await eventually(lambda: len(self.outputs) >= count, what="a tool result")
        return self.outputs[count - 1]

    async def wait_said(self, fragment: str) -> None:
        await eventually(lambda: self.tts.said(fragment), what=f"the agent to say {fragment!r}")


@asynccontextmanager
async def talk(replies: list[Any], toolset: MCPToolset) -> AsyncIterator[Talk]:
    """A stock AgentSession with the toolset in `tools=[...]`, as a user's agent would have it."""
    stt_, llm_, tts_ = ScriptedSTT(), ToolRecordingLLM(replies), RecordingTTS()
    session: AgentSession[None] = AgentSession(
        stt=stt_,
        llm=llm_,
        tts=tts_,
        tools=[toolset],
        turn_handling={"turn_detection": "stt", "endpointing": {"min_delay": 0.05, "max_delay": 0.5}},
        user_away_timeout=None,
        aec_warmup_duration=None,
    )
    audio_in = SilentAudioInput()
    session.input.audio = audio_in
    session.output.audio = RecordingAudioOutput(sample_rate=SAMPLE_RATE_OUT)
    outputs: list[llm.FunctionCallOutput] = []

    def on_tools(ev: FunctionToolsExecutedEvent) -> None:
        outputs.extend(out for out in ev.function_call_outputs if out is not None)

    session.on("function_tools_executed", on_tools)
    await session.start(Agent(instructions="You are a test agent."))
    try:
        yield Talk(session, stt_, llm_, tts_, toolset, outputs)
    finally:
        audio_in.close()
        await session.aclose()


def voice_toolset(log: ServerLog, **options: Any) -> MCPToolset:
    server = build_voice_server(log, slow_s=options.pop("slow_s", 1.5))
    return MCPToolset(
        {"voicetest": MEMORY}, transport_factories={"voicetest": lambda: InMemoryTransport(server)}, **options
    )


async def test_has_livekits_toolset_shape() -> None:
    toolset = MCPToolset.from_dict({"mcpServers": {"demo": {"url": "http://127.0.0.1:9/mcp"}}}, id="mine")
    assert isinstance(toolset, AsyncToolset) and isinstance(toolset, llm.Toolset)
    assert toolset.id == "mine" and list(toolset.tools) == [] and toolset.hub is None  # nothing connects early


async def test_a_session_calls_a_tool_and_the_answer_is_the_speakable_result() -> None:
    log = ServerLog()
    async with talk([ToolCallReply("quick", {}), "Here it is."], voice_toolset(log)) as t:
        assert t.toolset.hub is not None  # LiveKit ran setup() when the agent started
        t.stt.user_says("quick one please")
        out = await t.wait_output()
        assert log.calls == ["quick"]
        assert out.output == "Quick answer." and not out.is_error
        assert "quick" in t.llm.offered[0] and "delete_note" in t.llm.offered[0]
        await t.wait_said("Here it is.")
    assert t.toolset.hub is None and list(t.toolset.tools) == []  # the session closed the toolset


async def test_barge_in_cancels_the_mcp_request() -> None:
    log = ServerLog()
    async with talk([ToolCallReply("hang", {}), "Stopped."], voice_toolset(log)) as t:
        t.stt.user_says("run the hanging tool")
        await asyncio.wait_for(log.hang_started.wait(), 10)
        t.stt.user_says("stop, never mind")
        await asyncio.wait_for(log.cancelled.wait(), 10)  # the server saw notifications/cancelled
        out = await t.wait_output()
        assert out.is_error and "interrupted" in out.output
        assert t.toolset.policies.cancelled_by_user == 1


async def test_destructive_tool_is_confirmed_by_voice() -> None:
    log = ServerLog()
    async with talk([ToolCallReply("delete_note", {"note_id": 3}), "Deleted."], voice_toolset(log)) as t:
        t.stt.user_says("delete note three")
        await t.wait_said("Do you want me to delete note 3?")
        assert log.deleted == []
        await eventually(lambda: t.session.agent_state != "speaking", what="the question to play out")
        t.stt.user_says("yes")
        await t.wait_output()
        assert log.deleted == [3]


async def test_progress_is_spoken_in_the_callers_session() -> None:
    log = ServerLog()
    toolset = voice_toolset(log, slow_s=2.4, filler=False, progress_interval_s=30)
    async with talk([ToolCallReply("slow", {}), "Finished."], toolset) as t:
        t.stt.user_says("slow please")
        await t.wait_said("Finished.")
        assert any(text.startswith("Still working") for text in t.tts.spoken), t.tts.spoken


async def test_a_tool_list_change_reaches_the_next_turn() -> None:
    server = build_server("lists")
    toolset = MCPToolset({"lists": MEMORY}, transport_factories={"lists": lambda: InMemoryTransport(server)})
    changed: list[list[str]] = []
    toolset.on_tools_changed = lambda tools: changed.append([tool.info.name for tool in tools])
    async with talk([ToolCallReply("add_tool", {}), "Added.", "Sure."], toolset) as t:
        t.stt.user_says("add a tool")
        await t.wait_output()
        await t.wait_said("Added.")
        await eventually(lambda: any("late_tool" in names for names in changed), what="the tools-changed hook")
        assert "late_tool" not in t.llm.offered[0]
        t.stt.user_says("and now?")
        await t.wait_said("Sure.")
        assert "late_tool" in t.llm.offered[-1]


async def test_a_down_server_gets_a_stand_in_that_says_why() -> None:
    toolset = MCPToolset({"notes": MCPServerConfig(url=f"http://127.0.0.1:{free_port()}/mcp")}, connect_timeout_s=3)
    async with talk([ToolCallReply("notes_server", {}), "Sorry."], toolset) as t:
        (status,) = toolset.statuses()
        assert status.state == "failed" and status.error and "notes" in status.error
        assert t.llm.offered == [] and _tool_names(toolset) == ["notes_server"]
        t.stt.user_says("read my notes")
        out = await t.wait_output()
        assert out.is_error and out.output == toolset.statuses()[0].error  # the real reason, not an invented one


async def test_setup_after_aclose_connects_again_and_filters_stay() -> None:
    server = build_server("again")
    toolset = MCPToolset({"again": MEMORY}, transport_factories={"again": lambda: InMemoryTransport(server)})
    await toolset.setup()
    assert {"echo", "weather"} <= set(_tool_names(toolset))
    before = list(toolset.tools)
    await toolset.setup()  # a second setup is a no-op, as LiveKit's: the same tool objects
    assert list(toolset.tools) == before and all(a is b for a, b in zip(toolset.tools, before, strict=True))
    await toolset.setup(reload=True)  # reload rebuilds them
    assert set(_tool_names(toolset)) == {tool.info.name for tool in before if isinstance(tool, llm.RawFunctionTool)}
    toolset.filter_tools(lambda tool: tool.info.name == "echo")
    assert _tool_names(toolset) == ["echo"]
    await toolset.aclose()
    assert toolset.hub is None
    await toolset.setup()  # LiveKit sets an agent's toolsets up again when the agent comes back
    try:
        assert _tool_names(toolset) == ["echo"]
        assert toolset.statuses()[0].state == "connected"
    finally:
        await toolset.aclose()


def _tool_names(toolset: MCPToolset) -> list[str]:
    return [tool.info.name for tool in toolset.tools if isinstance(tool, llm.RawFunctionTool)]


def test_from_config_reads_servers_and_voice_settings(tmp_path: Path) -> None:
    path = tmp_path / "voxmcp.toml"
    path.write_text(
        "[voice]\nconfirm_destructive = false\nfiller = false\n[mcp]\nconnect_timeout_s = 3.5\n"
        '[mcp.servers.time]\ncommand = "uvx"\nargs = ["mcp-server-time"]\n'
    )
    toolset = MCPToolset.from_config(path)
    assert list(toolset.servers) == ["time"] and toolset.servers["time"].command == "uvx"
    assert toolset.policies.confirm_destructive is False and toolset.policies.filler is False
    assert MCPToolset.from_config(path, confirm_destructive=True).policies.confirm_destructive is True


def test_from_config_errors_name_the_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "voxmcp.toml"
    path.write_text("[mcp]\nconnect_timeout_s = -1\n")
    with pytest.raises(ConfigError) as err:
        MCPToolset.from_config(path)
    assert "voxmcp.toml" in str(err.value) and "mcp.connect_timeout_s" in str(err.value)
    assert "\n" not in str(err.value)


def test_from_dict_and_mcp_json(tmp_path: Path) -> None:
    document = {
        "mcpServers": {
            "web": {"url": "https://example.com/mcp", "headers": {"X-Team": "a"}},
            "files": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"]},
        }
    }
    toolset = MCPToolset.from_dict(document)
    assert toolset.servers["web"].url == "https://example.com/mcp" and toolset.servers["files"].command == "npx"
    path = tmp_path / "mcp.json"
    path.write_text(json.dumps(document))
    assert MCPToolset.from_mcp_json(path).servers.keys() == toolset.servers.keys()
    with pytest.raises(MCPConfigError, match=r"mcpServers\.web"):
        MCPToolset.from_dict({"mcpServers": {"web": {"url": 5}}})
