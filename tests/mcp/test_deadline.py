"""CallDeadline: idle bound restarted by progress, capped, and stopped while the client answers the server."""

from __future__ import annotations

import asyncio

import pytest

from voxmcp.mcp.deadline import CallDeadline


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def make(clock: FakeClock, *, timeout_s: float = 10.0, max_pause_s: float = 60.0) -> CallDeadline:
    return CallDeadline(timeout_s, cap_factor=4.0, max_pause_s=max_pause_s, clock=clock)


def test_idle_bound_restarts_on_progress_within_the_cap() -> None:
    clock = FakeClock()
    d = make(clock)
    assert d.when() == 110.0
    clock.now = 108.0
    d.activity()
    assert d.when() == 118.0
    clock.now = 135.0
    d.activity()
    assert d.when() == 140.0  # 4 x 10 s cap


def test_paused_time_does_not_count_and_resume_gives_a_fresh_idle_bound() -> None:
    clock = FakeClock()
    d = make(clock)
    clock.now = 105.0
    d.pause()
    assert d.paused
    clock.now = 150.0  # 45 s of the user's time
    assert d.active_s() == pytest.approx(5.0)
    assert d.when() == pytest.approx(170.0)  # 15 s of pause credit left, then 5 s of the idle bound
    d.resume()
    assert not d.paused
    assert d.when() == pytest.approx(160.0)  # a fresh 10 s for the server to use the answer
    clock.now = 200.0
    assert d.active_s() == pytest.approx(55.0)


def test_pause_credit_is_bounded() -> None:
    clock = FakeClock()
    d = make(clock, max_pause_s=20.0)
    d.pause()
    assert d.when() == pytest.approx(130.0)  # 20 s of credit, then the 10 s idle bound
    clock.now = 125.0
    assert d.active_s() == pytest.approx(5.0)
    d.resume()
    clock.now = 130.0
    d.pause()  # credit is spent: the clock keeps running
    assert d.when() == pytest.approx(135.0)


def test_nested_pauses_resume_once_all_ended() -> None:
    clock = FakeClock()
    d = make(clock)
    d.pause()
    d.pause()
    d.resume()
    assert d.paused
    d.resume()
    assert not d.paused
    with pytest.raises(RuntimeError, match="without a matching pause"):
        d.resume()


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="timeout_s"):
        CallDeadline(0, cap_factor=4.0, max_pause_s=1.0, clock=FakeClock())
    with pytest.raises(ValueError, match="cap_factor"):
        CallDeadline(1, cap_factor=0.5, max_pause_s=1.0, clock=FakeClock())
    with pytest.raises(ValueError, match="max_pause_s"):
        CallDeadline(1, cap_factor=4.0, max_pause_s=-1, clock=FakeClock())


async def test_drives_an_asyncio_timeout() -> None:
    loop = asyncio.get_running_loop()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(None) as timer:
            d = CallDeadline(0.2, cap_factor=4.0, max_pause_s=5.0)
            d.attach(timer)
            d.pause()
            assert timer.when() is not None and timer.when() > loop.time() + 5.0  # type: ignore[operator]
            await asyncio.sleep(0.3)  # longer than the timeout, but paused
            d.resume()
            await asyncio.sleep(1.0)
