"""A tool call's deadline, counted in the server's time only.

The timeout is an idle bound: progress restarts it, up to a cap on the call's total time. While the client is
answering a request the server sent during the call (elicitation, sampling), the clock stops: that time is the
user's (a spoken form takes a minute) or our model's, not the server's. A pause earns at most `max_pause_s` of
credit in total, so a dialog that never ends still cannot hang the call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class CallDeadline:
    """Drives one `asyncio.Timeout` (see module doc); times are in the event loop's clock."""

    def __init__(
        self,
        timeout_s: float,
        *,
        cap_factor: float,
        max_pause_s: float,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
        if cap_factor < 1:
            raise ValueError(f"cap_factor must be >= 1, got {cap_factor}")
        if max_pause_s < 0:
            raise ValueError(f"max_pause_s must be >= 0, got {max_pause_s}")
        self.timeout_s = timeout_s
        self.cap_s = timeout_s * cap_factor
        self.max_pause_s = max_pause_s
        self._clock = clock or asyncio.get_running_loop().time
        self._started = self._clock()
        self._paused_total = 0.0
        self._pause_began: float | None = None
        self._pauses = 0
        self._idle_from = 0.0
        """Active (unpaused) seconds into the call when the idle bound last restarted."""
        self._timeout: asyncio.Timeout | None = None

    @property
    def paused(self) -> bool:
        return self._pauses > 0

    def _credit_used(self, now: float) -> float:
        """Paused seconds counted off the clock so far (never more than `max_pause_s`)."""
        current = now - self._pause_began if self._pause_began is not None else 0.0
        return min(self.max_pause_s, self._paused_total + current)

    def active_s(self, now: float | None = None) -> float:
        """Seconds of the call that count against the timeout."""
        now = self._clock() if now is None else now
        return now - self._started - self._credit_used(now)

    def when(self) -> float:
        """The loop time at which the call times out, as things stand now."""
        now = self._clock()
        remaining = min(self._idle_from + self.timeout_s, self.cap_s) - self.active_s(now)
        if self._pause_began is not None:
            remaining += self.max_pause_s - self._credit_used(now)  # the clock resumes once the credit is spent
        return now + remaining

    def attach(self, timeout: asyncio.Timeout) -> None:
        """Let this deadline drive `timeout` (the `asyncio.timeout()` around the request)."""
        self._timeout = timeout
        self._apply()

    def activity(self) -> None:
        """The server showed progress: restart the idle bound (within the cap)."""
        self._idle_from = self.active_s()
        self._apply()

    def pause(self) -> None:
        """The client started answering a server request; nestable."""
        self._pauses += 1
        if self._pauses == 1:
            self._pause_began = self._clock()
            self._apply()

    def resume(self) -> None:
        """The client answered: the clock runs again, and the server gets a fresh idle bound to use the answer."""
        if self._pauses == 0:
            raise RuntimeError("resume() without a matching pause()")
        self._pauses -= 1
        if self._pauses == 0 and self._pause_began is not None:
            now = self._clock()
            self._paused_total = self._credit_used(now)
            self._pause_began = None
            self._idle_from = self.active_s(now)
            self._apply()

    def _apply(self) -> None:
        if self._timeout is not None and not self._timeout.expired():
            self._timeout.reschedule(self.when())
