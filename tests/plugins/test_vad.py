"""voxmcp.plugins.vad.SileroVAD: LiveKit's silero VAD from the sha256-checked file."""

from __future__ import annotations

import pytest
from livekit.agents import vad
from livekit.plugins import silero

from voxmcp.plugins.vad import SileroVAD


def test_loads_livekits_silero_with_our_options() -> None:
    model = SileroVAD.load(min_silence_duration=0.4)
    assert isinstance(model, vad.VAD) and isinstance(model, silero.VAD)
    assert model._opts.min_silence_duration == 0.4


def test_bad_options_are_named() -> None:
    with pytest.raises(ValueError, match="min_silence_duration must be between"):
        SileroVAD.load(min_silence_duration=0)
