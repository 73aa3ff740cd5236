"""The agent's wiring: greeting, and what happens when an MCP server is down."""

from __future__ import annotations

import asyncio

import pytest
from livekit.agents.llm import ToolError

from voxmcp.app import greeting_text, stand_in_tools, unreachable_server_tool
from voxmcp.config import load_settings
from voxmcp.demo.runner import free_port
from voxmcp.mcp.config import MCPServerConfig
from voxmcp.mcp.toolset import MCPHub, ServerStatus


def test_greeting_is_fixed_and_names_down_servers() -> None:
    settings = load_settings(env={}, dotenv=False)
    up = ServerStatus(name="demo", state="connected", error=None, tool_count=7)
    down = ServerStatus(name="files", state="failed", error="connection refused", tool_count=0)
    assert greeting_text(settings, [up]) == "Hi! What can I do for you?"
    assert greeting_text(settings, [up, down]) == (
        "Hi! What can I do for you? Note that I can't reach the files server right now."
    )
    other = ServerStatus(name="mail", state="failed", error="no answer", tool_count=0)
    assert greeting_text(settings, [down, up, other]).endswith("I can't reach the files and mail servers right now.")


def test_a_down_server_answers_with_the_real_reason() -> None:
    async def main() -> None:
        url = f"http://127.0.0.1:{free_port()}/mcp"
        hub = MCPHub({"demo": MCPServerConfig(url=url)}, connect_timeout_s=5)
        try:
            statuses = await hub.start()
            assert statuses[0].state == "failed"
            tool = unreachable_server_tool(statuses[0], hub)
            assert tool.info.name == "demo_server"
            with pytest.raises(ToolError, match="can't reach the demo server"):
                await tool({})
        finally:
            await hub.aclose()

    asyncio.run(asyncio.wait_for(main(), 30))


def test_a_server_stuck_in_its_handshake_is_treated_as_down() -> None:
    """Accepts the connection, never answers: after the bound it gets a stand-in and a greeting warning, like a
    refused one, so the model has a tool that tells the truth instead of nothing (and an invented answer)."""

    async def main() -> None:
        async def accept_and_ignore(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await asyncio.sleep(30)

        listener = await asyncio.start_server(accept_and_ignore, "127.0.0.1", 0)
        port = listener.sockets[0].getsockname()[1]
        hub = MCPHub({"weather": MCPServerConfig(url=f"http://127.0.0.1:{port}/mcp")}, connect_timeout_s=1)
        try:
            statuses = await hub.start()
            reason = f"The weather server at 127.0.0.1:{port} did not answer in time."
            assert [(s.state, s.error) for s in statuses] == [("failed", reason)]
            settings = load_settings(env={}, dotenv=False)
            assert greeting_text(settings, statuses).endswith("Note that I can't reach the weather server right now.")
            [stand_in] = stand_in_tools(hub)
            assert stand_in.info.name == "weather_server"
            with pytest.raises(ToolError) as info:
                await asyncio.wait_for(stand_in({}), 3)  # the handshake still in flight is not waited for again
            assert info.value.message == reason
            assert hub.function_tools() == []
        finally:
            await hub.aclose()
            listener.close()

    asyncio.run(asyncio.wait_for(main(), 30))


def test_worker_settings_apply_without_forcing_a_server_url() -> None:
    """Console mode must stay local: an unset [livekit].url must not become a URL that needs API keys."""
    from livekit.agents import AgentServer

    from voxmcp.app import configure_server

    srv = AgentServer()
    configure_server(srv, load_settings(env={}, dotenv=False))
    assert srv._ws_url == ""
    assert (srv._host, srv._port) == ("127.0.0.1", 0)  # a free loopback health port: several workers per host

    env = {
        "VOXMCP_LIVEKIT__MAX_JOBS": "2",
        "VOXMCP_LIVEKIT__AGENT_NAME": "voxmcp",
        "LIVEKIT_URL": "ws://127.0.0.1:7880",
    }
    srv = AgentServer()
    configure_server(srv, load_settings(env=env, dotenv=False))
    assert srv._ws_url == "ws://127.0.0.1:7880"
    assert srv._agent_name == "voxmcp"
    assert srv.load_fnc is not None


def test_sessions_wrap_local_models_for_speed() -> None:
    """Local STT decodes during the end-of-turn silence, local TTS speaks from the first clause, and LiveKit's
    markdown filter (which held a trailing-space preamble back) is off for engines that clean text themselves."""
    from types import SimpleNamespace

    from livekit.agents import tts as lk_tts

    from voxmcp.app import session_stt, session_text_transforms, session_tts
    from voxmcp.models.eager_stt import EagerSTTAdapter
    from voxmcp.models.speech_chunks import FirstClauseTokenizer
    from voxmcp.models.stt import WhisperSTT
    from voxmcp.models.tts import HibariTTS
    from voxmcp.models.vad import build_silero_vad

    settings = load_settings(env={}, dotenv=False)
    models = SimpleNamespace(stt=WhisperSTT(), tts=HibariTTS(), vad=build_silero_vad())
    stt_ = session_stt(models, settings)  # type: ignore[arg-type]
    assert isinstance(stt_, EagerSTTAdapter) and stt_.eager_after_s == settings.voice.eager_stt_after_s
    tts_ = session_tts(models)  # type: ignore[arg-type]
    assert isinstance(tts_, lk_tts.StreamAdapter) and isinstance(tts_._sentence_tokenizer, FirstClauseTokenizer)
    assert session_text_transforms(models) == ["filter_emoji"]  # type: ignore[arg-type]
    remote = SimpleNamespace(tts=SimpleNamespace(capabilities=SimpleNamespace(streaming=True)))
    assert session_text_transforms(remote) == ["filter_markdown", "filter_emoji"]  # type: ignore[arg-type]


def test_each_session_biases_its_own_copy_of_whisper() -> None:
    from types import SimpleNamespace

    from voxmcp.app import session_stt
    from voxmcp.models.eager_stt import EagerSTTAdapter
    from voxmcp.models.stt import WhisperSTT
    from voxmcp.models.vad import build_silero_vad
    from voxmcp.models.vocabulary import ToolText, build_vocabulary

    settings = load_settings(env={}, dotenv=False)
    shared = WhisperSTT()
    models = SimpleNamespace(stt=shared, vad=build_silero_vad())
    vocab = build_vocabulary([ToolText("list_notes", "List all saved notes."), ToolText("get_weather", "Weather")])
    stt_ = session_stt(models, settings, vocabulary=vocab)  # type: ignore[arg-type]
    assert isinstance(stt_, EagerSTTAdapter)
    own = stt_.wrapped_stt
    assert isinstance(own, WhisperSTT) and own is not shared
    assert own.options.vocabulary == vocab and own.options.initial_prompt == "Hi! What can I do for you?"
    assert shared.options.vocabulary is None and shared.options.initial_prompt is None  # other sessions unaffected


def test_sessions_run_the_llm_inside_the_turn_policy() -> None:
    import sys
    from pathlib import Path
    from types import SimpleNamespace

    from voxmcp.app import VoiceAgentRuntime
    from voxmcp.models.vad import build_silero_vad
    from voxmcp.policy import TurnPolicyLLM

    sys.path.insert(0, str(Path(__file__).parent / "voice"))
    from fakes import RecordingTTS, ScriptedLLM, ScriptedSTT

    async def main() -> None:
        inner = ScriptedLLM(replies=[])
        models = SimpleNamespace(stt=ScriptedSTT(), vad=build_silero_vad(), llm=inner, tts=RecordingTTS())
        env = {"VOXMCP_MCP__USE_DEMO_SERVER": "false", "VOXMCP_AGENT__MAX_REPAIRS": "2"}
        runtime = VoiceAgentRuntime(load_settings(env=env, dotenv=False), models)  # type: ignore[arg-type]
        session, _ = runtime.new_session()
        assert isinstance(session.llm, TurnPolicyLLM) and session.llm.inner is inner
        assert session.llm.options.max_repairs == 2 and session.llm.options.preamble == "One moment."
        assert session.llm.options.outcome_of == runtime.voice.outcome_of
        env["VOXMCP_AGENT__TURN_POLICY"] = "false"
        bare = VoiceAgentRuntime(load_settings(env=env, dotenv=False), models)  # type: ignore[arg-type]
        assert bare.new_session()[0].llm is inner
        await runtime.hub.aclose()
        await bare.hub.aclose()

    asyncio.run(main())
