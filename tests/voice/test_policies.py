"""VoicePolicies in a real AgentSession: confirmation, filler, barge-in cancellation, elicitation by voice."""

from __future__ import annotations

import asyncio

import pytest
from mcp.client._memory import InMemoryTransport

from voxmcp.mcp.config import MCPServerConfig
from voxmcp.mcp.interaction import InteractionHandlers
from voxmcp.mcp.toolset import MCPHub
from voxmcp.voice.confirm import DECLINED_RESULT, NO_ANSWER_RESULT
from voxmcp.voice.policies import INTERRUPTED_RESULT

from .fakes import ToolCallReply, eventually
from .harness import conversation
from .voice_servers import ServerLog, build_voice_server

pytestmark = pytest.mark.timeout(60)


async def test_destructive_call_runs_after_a_spoken_yes() -> None:
    async with conversation([ToolCallReply("delete_note", {"note_id": 3}), "Deleted it."]) as c:
        c.user_says("delete note three")
        await c.wait_said("Do you want me to delete note 3?")
        assert c.server.calls == []  # nothing happens before the answer
        await c.answer("yes please")
        out = await c.wait_output()
        assert c.server.deleted == [3]
        assert not out.is_error and "Deleted note 3" in out.output
        await c.wait_said("Deleted it.")


@pytest.mark.parametrize("answer", ["no", "don't do that", "cancel", "never mind"])
async def test_destructive_call_is_skipped_on_no_or_cancel(answer: str) -> None:
    async with conversation([ToolCallReply("delete_note", {"note_id": 3}), "Alright."]) as c:
        c.user_says("delete note three")
        await c.wait_said("delete note 3?")
        await c.answer(answer)
        out = await c.wait_output()
        assert out.output == DECLINED_RESULT and not out.is_error
        assert c.server.calls == []


async def test_destructive_call_is_skipped_when_nobody_answers() -> None:
    async with conversation([ToolCallReply("delete_note", {"note_id": 3}), "Alright."], answer_timeout_s=0.4) as c:
        c.user_says("delete note three")
        out = await c.wait_output()
        assert out.output == NO_ANSWER_RESULT and not out.is_error
        assert c.server.calls == []


async def test_unclear_answer_is_asked_again() -> None:
    async with conversation([ToolCallReply("delete_note", {"note_id": 3}), "Done."]) as c:
        c.user_says("delete note three")
        await c.wait_said("Do you want me to delete note 3?")
        await c.answer("hmm what")
        await c.wait_said("please say yes or no")
        await c.answer("yes")
        await c.wait_output()
        assert c.server.deleted == [3]


async def test_confirmation_can_be_switched_off() -> None:
    async with conversation([ToolCallReply("delete_note", {"note_id": 5}), "Done."], confirm_destructive=False) as c:
        c.user_says("delete note five")
        await c.wait_output()
        assert c.server.deleted == [5]
        assert not c.said("Do you want me to")


async def test_read_only_tools_are_not_confirmed() -> None:
    async with conversation([ToolCallReply("quick", {}), "Here."]) as c:
        c.user_says("quick one")
        out = await c.wait_output()
        assert out.output == "Quick answer."
        assert not c.said("Do you want me to")


async def test_filler_once_for_a_slow_call() -> None:
    async with conversation(
        [ToolCallReply("slow", {}), "Done slowly."], server_options={"slow_s": 1.6}, progress_first_after_s=60
    ) as c:
        c.user_says("do the slow thing")
        await c.wait_output()
        await c.wait_said("Done slowly.")
        assert sum(1 for t in c.voice.tts.spoken if t == "One moment.") == 1
        assert c.policies.fillers_said == 1


async def test_no_filler_after_the_models_own_preamble() -> None:
    """ "One moment." spoken by the model at the call decision, then "One moment." again from the filler."""
    async with conversation(
        [ToolCallReply("slow", {}, preamble="One moment."), "Done slowly."],
        server_options={"slow_s": 1.6},
        progress_first_after_s=60,
    ) as c:
        c.user_says("do the slow thing")
        await c.wait_output()
        await c.wait_said("Done slowly.")
        assert sum(1 for t in c.voice.tts.spoken if t == "One moment.") == 1
        assert c.policies.fillers_said == 0


async def test_no_filler_for_a_fast_call() -> None:
    async with conversation([ToolCallReply("quick", {}), "Here it is."]) as c:
        c.user_says("quick one")
        await c.wait_said("Here it is.")
        await asyncio.sleep(1.0)  # past the filler delay: it must not come late either
        assert "One moment." not in c.voice.tts.spoken
        assert c.policies.fillers_said == 0


async def test_filler_can_be_switched_off() -> None:
    async with conversation(
        [ToolCallReply("slow", {}), "Done."], server_options={"slow_s": 1.2}, filler=False, progress_first_after_s=60
    ) as c:
        c.user_says("slow please")
        await c.wait_said("Done.")
        assert "One moment." not in c.voice.tts.spoken


async def test_progress_is_spoken_for_a_slow_call() -> None:
    async with conversation(
        [ToolCallReply("slow", {}), "Finished."],
        server_options={"slow_s": 2.4},
        filler=False,
        progress_first_after_s=0.5,
        progress_interval_s=30,
    ) as c:
        c.user_says("slow please")
        await c.wait_said("Finished.")
        progress = [t for t in c.voice.tts.spoken if t.startswith("Still working")]
        assert progress == ["Still working: 33 percent."]  # one update: the throttle holds the next back


async def test_barge_in_cancels_the_running_tool_and_its_mcp_request() -> None:
    async with conversation([ToolCallReply("hang", {}), "Okay, stopped."]) as c:
        c.user_says("run the hanging tool")
        await asyncio.wait_for(c.server.hang_started.wait(), 10)
        c.user_says("stop, never mind")
        await asyncio.wait_for(c.server.cancelled.wait(), 10)  # the server saw notifications/cancelled
        out = await c.wait_output()
        assert out.is_error and INTERRUPTED_RESULT in out.output
        assert len(c.policies.calls) == 0 and c.policies.cancelled_by_user == 1


async def test_programmatic_interrupt_cancels_the_running_tool() -> None:
    async with conversation([ToolCallReply("hang", {}), "Stopped."]) as c:
        c.user_says("run the hanging tool")
        await asyncio.wait_for(c.server.hang_started.wait(), 10)
        await asyncio.wait_for(c.voice.session.interrupt(), 10)
        await asyncio.wait_for(c.server.cancelled.wait(), 10)


async def test_elicitation_by_voice_accepts_with_defaults() -> None:
    async with conversation([ToolCallReply("book_table", {}), "Booked."]) as c:
        c.user_says("book me a table")
        await c.wait_said("How many guests, and inside or on the terrace?")
        await c.wait_said("Please tell me number of guests.")  # only the required field: the rest has defaults
        assert not c.said("optionally")
        await c.answer("four of us on the terrace")
        await c.wait_said("I'll send number of guests 4, seating terrace, with the defaults for the rest; say no")
        out = await c.wait_output()  # silence after the read-back sends it
        assert c.server.elicited == [("accept", {"guests": 4, "seating": "terrace", "note": "none"})]
        assert "Booked for 4 guests, terrace" in out.output
        assert c.policies.fillers_said == 0  # never a filler while a question waits for its answer


async def test_a_form_that_outlasts_the_call_timeout_still_goes_through() -> None:
    """The user's time in the form is not the server's: a 1 s call timeout, a user who takes longer to answer."""
    log = ServerLog()

    def hub(handlers: InteractionHandlers) -> MCPHub:
        server = build_voice_server(log)
        config = MCPServerConfig.model_validate({"url": "http://in-memory/mcp", "protocol": "legacy", "timeout_s": 1.0})
        return MCPHub(
            {"voicetest": config},
            handlers=handlers,
            transport_factories={"voicetest": lambda: InMemoryTransport(server)},
        )

    async with conversation([ToolCallReply("book_table", {}), "Booked."], hub_factory=hub) as c:
        c.user_says("book me a table")
        await c.wait_said("Please tell me number of guests.")
        await asyncio.sleep(1.5)
        await c.answer("three")
        out = await c.wait_output()
        assert not out.is_error, out.output
        assert log.elicited == [("accept", {"guests": 3, "seating": "inside", "note": "none"})]


@pytest.mark.parametrize(("answer", "action"), [("no thanks", "decline"), ("never mind", "cancel")])
async def test_elicitation_can_be_declined_or_cancelled(answer: str, action: str) -> None:
    async with conversation([ToolCallReply("book_table", {}), "Fine."]) as c:
        c.user_says("book me a table")
        await c.wait_said("How many guests")
        await c.answer(answer)
        await c.wait_output()
        assert c.server.elicited == [(action, None)]


async def test_elicitation_readback_no_declines() -> None:
    async with conversation([ToolCallReply("book_table", {}), "Fine."]) as c:
        c.user_says("book me a table")
        await c.wait_said("How many guests")
        await c.answer("two people")
        await c.wait_said("say no if that's wrong.")
        await c.answer("no")
        await c.wait_output()
        assert c.server.elicited == [("decline", None)]


async def test_elicitation_silence_cancels() -> None:
    async with conversation([ToolCallReply("book_table", {}), "Fine."], answer_timeout_s=0.4) as c:
        c.user_says("book me a table")
        await c.wait_output()
        assert c.server.elicited == [("cancel", None)]


async def test_url_elicitation_shows_the_link_and_asks() -> None:
    async with conversation([ToolCallReply("sign_in", {}), "Signed in."]) as c:
        c.user_says("sign me in")
        await c.wait_said("I've shown the link on your screen")
        assert c.links == [("voicetest", "Please sign in to continue", "https://example.com/login?x=1")]
        assert not c.said("https://")  # a URL is shown, never read aloud
        await c.answer("yes")
        out = await c.wait_output()
        assert c.server.elicited == [("accept", None)]
        assert "Sign-in: accept" in out.output


async def test_elicitation_without_a_running_call_is_cancelled() -> None:
    async with conversation([]) as c:
        reply = await c.policies.elicit("voicetest", "Name?", {"type": "object", "properties": {}})
        assert reply == "cancel"
        await eventually(lambda: True)


async def test_typed_answer_is_heard_too() -> None:
    """Console text mode: typed input interrupts and goes to generate_reply, never through the STT."""
    async with conversation([ToolCallReply("delete_note", {"note_id": 2}), "Done."]) as c:
        c.user_says("delete note two")
        await c.wait_said("Do you want me to delete note 2?")
        await eventually(lambda: c.voice.session.agent_state != "speaking", what="playout")
        await c.voice.session.interrupt()
        c.voice.session.generate_reply(user_input="yes")
        await c.wait_output()
        assert c.server.deleted == [2]


async def test_destructive_call_through_search_mode_call_tool_is_confirmed() -> None:
    def search_mode_hub(handlers: InteractionHandlers) -> MCPHub:
        server = build_voice_server(ServerLog())
        config = MCPServerConfig.model_validate({"url": "http://in-memory/mcp", "protocol": "legacy"})
        factories = {"voicetest": lambda: InMemoryTransport(server)}
        return MCPHub({"voicetest": config}, handlers=handlers, transport_factories=factories,
                      search_tools_threshold_chars=1)  # fmt: skip

    call = ToolCallReply("call_tool", {"name": "delete_note", "arguments": {"note_id": 7}})
    async with conversation([call, "Okay."], hub_factory=search_mode_hub) as c:
        assert {t.info.name for t in c.hub.function_tools()} >= {"search_tools", "call_tool"}
        c.user_says("delete note seven")
        await c.wait_said("Do you want me to delete note 7?")
        await c.answer("no")
        out = await c.wait_output()
        assert out.output == DECLINED_RESULT
