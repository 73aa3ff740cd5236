"""Dialogs cut short: a confirmation or an elicitation whose conversation ends while the question waits for its
answer (LiveKit then cancels the dialog's AgentTask: `ToolError: AgentTask ... is cancelled`).

The user-facing outcome must be a clean "no": nothing is done, the tool's result is a sentence, and no traceback
reaches the log at the levels a user sees (tracebacks go to DEBUG).
"""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from livekit.agents.llm import ToolError

from voxmcp.voice.confirm import NO_ANSWER_RESULT
from voxmcp.voice.policies import CLOSED_RESULT

sys.path.insert(0, str(Path(__file__).parents[1]))

from voice.fakes import ToolCallReply, eventually
from voice.harness import conversation

if TYPE_CHECKING:
    from tests.faults.conftest import FaultRecord

pytestmark = pytest.mark.timeout(60)


def _user_visible_log(caplog: pytest.LogCaptureFixture) -> str:
    """What a user's terminal shows of the log: WARNING and up (the default), tracebacks included."""
    fmt = logging.Formatter("%(levelname)s %(name)s: %(message)s")
    return "\n".join(fmt.format(r) for r in caplog.records if r.levelno >= logging.WARNING)


def _record_results(c: Any) -> list[Any]:
    """The wrapped tool's own return values (a session that closed emits no function_tools_executed)."""
    results: list[Any] = []
    original = c.policies._run_tool

    async def run_tool(*args: Any, **kwargs: Any) -> Any:
        try:
            out = await original(*args, **kwargs)
        except BaseException as e:
            results.append(e)
            raise
        results.append(out)
        return out

    c.policies._run_tool = run_tool
    return results


async def test_confirmation_cancelled_mid_turn_is_a_clean_no(
    fault: FaultRecord, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with conversation([ToolCallReply("delete_note", {"note_id": 3}), "Alright."]) as c:
        results = _record_results(c)
        c.user_says("delete note three")
        await c.wait_said("Do you want me to delete note 3?")
        await eventually(lambda: c.policies.awaiting_answer, what="the question to wait for its answer")
        assert c.policies.busy
        await c.voice.session.aclose()  # the conversation ends while the question waits (talk's end, a hang-up)
        await eventually(lambda: bool(results), what="the tool call to return")
        fault.outcome = str(results[0])
        assert results == [NO_ANSWER_RESULT]
        assert c.server.calls == []  # nothing was deleted
        assert not c.policies.busy and not c.policies.awaiting_answer
    fault.saw_output(_user_visible_log(caplog))
    assert fault.tracebacks == 0
    assert not [r for r in caplog.records if r.exc_info and r.levelno > logging.DEBUG]
    assert any(r.getMessage() == "dialog ended before an answer" for r in caplog.records)


async def test_elicitation_cancelled_mid_turn_sends_cancel_and_books_nothing(
    fault: FaultRecord, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with conversation([ToolCallReply("book_table", {}), "Fine."]) as c:
        results = _record_results(c)
        c.user_says("book me a table")
        await c.wait_said("How many guests")
        await eventually(lambda: c.policies.awaiting_answer, what="the form to wait for its answer")
        await c.voice.session.aclose()
        await eventually(lambda: bool(results), what="the tool call to return")
        await eventually(lambda: bool(c.server.elicited), what="the server to get the elicitation's answer")
        fault.outcome = str(results[0])
        assert c.server.elicited == [("cancel", None)]  # the server heard "cancel": nothing was booked
        assert isinstance(results[0], ToolError) and str(results[0]) == CLOSED_RESULT  # not "the user interrupted"
        assert c.policies.cancelled_by_user == 0
    fault.saw_output(_user_visible_log(caplog))
    assert fault.tracebacks == 0
    assert not [r for r in caplog.records if r.exc_info and r.levelno > logging.DEBUG]


async def test_a_failing_dialog_script_is_a_warning_without_traceback(
    fault: FaultRecord, caplog: pytest.LogCaptureFixture
) -> None:
    """A script that raises (a bug, a bad schema) still hands the conversation back: no answer, nothing done."""
    caplog.set_level(logging.DEBUG)
    async with conversation([ToolCallReply("delete_note", {"note_id": 3}), "Alright."]) as c:
        results = _record_results(c)

        async def broken(_asker: Any) -> Any:
            raise RuntimeError("script broke")

        with pytest.MonkeyPatch.context() as mp:
            mp.setattr("voxmcp.voice.confirm.ask_confirmation", lambda _asker, _action: broken(_asker))
            c.user_says("delete note three")
            await eventually(lambda: bool(results), what="the tool call to return")
        fault.outcome = str(results[0])
        assert results == [NO_ANSWER_RESULT]
        assert c.server.calls == []
        await asyncio.sleep(0)
    fault.saw_output(_user_visible_log(caplog))
    assert fault.tracebacks == 0
    assert "dialog script failed: script broke" in _user_visible_log(caplog)
