from __future__ import annotations

import logging

import pytest

from voxmcp.evals.agent_log import agent_log


def test_decisions_are_kept_with_their_extras_and_the_loggers_restored() -> None:
    llm_log = logging.getLogger("voxmcp.models.llm")
    before = (llm_log.level, llm_log.propagate)
    sink: list[str] = []
    with agent_log(sink):
        llm_log.info("tool call not grounded in the user's words", extra={"tool": "get_weather", "reason": "x"})
        logging.getLogger("voxmcp.voice.policies").info("confirmation asked")
        logging.getLogger("voxmcp.models.stt").info("not an agent decision")
        llm_log.debug("too fine")
    llm_log.info("after the block")
    assert sink == [
        "llm: tool call not grounded in the user's words {'tool': 'get_weather', 'reason': 'x'}",
        "policies: confirmation asked",
    ]
    assert (llm_log.level, llm_log.propagate) == before


def test_warnings_still_reach_the_console_and_info_does_not(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    sink: list[str] = []
    with agent_log(sink):
        logging.getLogger("voxmcp.models.llm").info("a retry")
        logging.getLogger("voxmcp.models.llm").warning("the model failed")
    assert [r.getMessage() for r in caplog.records] == ["the model failed"]
    assert sink == ["llm: a retry", "llm: the model failed"]


def test_the_log_is_bounded() -> None:
    sink: list[str] = []
    with agent_log(sink, limit=3):
        for i in range(10):
            logging.getLogger("voxmcp.models.llm").info("line %d", i)
    assert sink == ["llm: line 0", "llm: line 1", "llm: line 2"]


def test_secrets_stay_out_of_the_report() -> None:
    sink: list[str] = []
    with agent_log(sink):
        logging.getLogger("voxmcp.mcp.toolset").info(
            "calling https://bob:S3CRET@h/mcp?api_key=S3CRET2", extra={"headers": {"Authorization": "Bearer S3CRET3"}}
        )
    assert sink == ["toolset: calling https://***@h/mcp?api_key=*** {'headers': {'Authorization': '***'}}"]
