"""The recipe: LiveKit's "MCP Agent" made real on local models and voxmcp's MCP layer.

`load_models` runs once per process (prewarm); `VoiceAgentRuntime` wires one conversation: the MCP hub, the LLM's KV
prefill, the AgentSession and the Agent. The LiveKit worker (`server`) and `voxmcp talk` both use it, so a room and a
WAV file get the same agent.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from livekit.agents import (
    Agent,
    AgentServer,
    AgentSession,
    EndpointingOptions,
    JobContext,
    JobProcess,
    inference,
    llm,
    stt,
    tts,
    vad,
)
from livekit.plugins import openai as _openai_plugin  # noqa: F401  LiveKit plugins must register on the main thread
from livekit.plugins import silero as _silero_plugin  # noqa: F401

from voxmcp.config import Settings, load_settings
from voxmcp.mcp import is_complete
from voxmcp.mcp.toolset import MCPHub, ServerStatus
from voxmcp.models import providers
from voxmcp.models.eager_stt import EagerSTTAdapter
from voxmcp.models.speech_chunks import FirstClauseTokenizer
from voxmcp.models.stt import WhisperSTT
from voxmcp.models.vocabulary import SpeechVocabulary, ToolText, build_vocabulary
from voxmcp.policy import PolicyOptions, TurnPolicyLLM
from voxmcp.toolset import stand_in_tools, unreachable_server_tool  # noqa: F401  (imported from here by tests)
from voxmcp.voice import VoicePolicies

logger = logging.getLogger(__name__)


@dataclass
class Models:
    """The four models one process loads once and every session shares (and the end-of-turn model, if asked for)."""

    vad: vad.VAD
    stt: stt.STT[Any]
    llm: llm.LLM[Any]
    tts: tts.TTS[Any]
    load_s: dict[str, float] = field(default_factory=dict)
    turn_detector: inference.TurnDetector | None = None
    """`[voice] turn_detection = "model"` and it loaded; None: turns end on VAD silence."""


def load_models(settings: Settings) -> Models:
    """Build (and for local models, load) VAD, STT, LLM and TTS; raises with a message naming what is wrong."""
    m = settings.models
    timings: dict[str, float] = {}

    def timed(name: str, fn: Any) -> Any:
        t0 = time.perf_counter()
        out = fn()
        timings[name] = round(time.perf_counter() - t0, 3)
        return out

    def secret(ref: Any) -> str | None:
        return ref.api_key.get_secret_value() if ref.api_key is not None else None

    stt_opts: dict[str, Any] = {}
    if m.stt.provider == "local":
        stt_opts = {"beam_size": settings.stt.beam_size, "cpu_threads": settings.stt.threads}
    llm_opts: dict[str, Any] = {}
    if m.llm.provider == "local":
        s = settings.llm
        llm_opts = {"n_ctx": s.n_ctx, "threads": s.threads, "temperature": s.temperature, "max_tokens": s.max_tokens,
                    "seed": s.seed, "instructions": settings.agent.instructions,
                    "tool_preamble": settings.voice.tool_preamble or None,
                    "result_says_as_is": is_complete, "rules_off": s.rules_off}  # fmt: skip
    vad_ = timed("vad", lambda: providers.build_vad("silero", min_silence_duration=settings.voice.min_silence_s))
    stt_ = timed("stt", lambda: providers.build_stt(m.stt.provider, m.stt.model, base_url=m.stt.base_url,
                                                    api_key=secret(m.stt), **stt_opts))  # fmt: skip
    llm_ = timed("llm", lambda: providers.build_llm(m.llm.provider, m.llm.model, base_url=m.llm.base_url,
                                                    api_key=secret(m.llm), **llm_opts))  # fmt: skip
    tts_ = timed("tts", lambda: providers.build_tts(m.tts.provider, m.tts.model, base_url=m.tts.base_url,
                                                    api_key=secret(m.tts), voice=m.tts.voice))  # fmt: skip
    for name, model in (("stt_warmup", stt_), ("tts_warmup", tts_)):
        warm = getattr(model, "warm_up", None)
        if callable(warm):
            timed(name, warm)
    detector = timed("turn_detector", load_turn_detector) if settings.voice.turn_detection == "model" else None
    return Models(vad=vad_, stt=stt_, llm=llm_, tts=tts_, load_s=timings, turn_detector=detector)


def load_turn_detector() -> inference.TurnDetector | None:
    """LiveKit's local end-of-turn model (weights inside livekit-local-inference), loaded and tried on silence here,
    so that a model that can't run is a warning at startup and turns end on VAD silence, never a failed turn."""
    try:
        from livekit import local_inference

        local_inference.init_eot()
        with local_inference.EOT() as eot:
            eot.predict(np.zeros(local_inference.EOT_MAX_SAMPLES, dtype=np.int16))
        # v1-mini explicitly: with no version LiveKit picks its cloud model in dev mode
        return inference.TurnDetector(version="v1-mini")
    except Exception as e:  # a native model fails in ways with no common base class
        logger.warning(
            "the end-of-turn model can't run (%s: %s); turns end on VAD silence plus endpointing_min_s instead",
            type(e).__name__,
            e,
        )
        return None


def greeting_text(settings: Settings, statuses: list[ServerStatus]) -> str:
    """A fixed greeting (no LLM, no tool calls: BASELINE failure 1), which says once which servers are down."""
    text = settings.agent.greeting_text or "Hi! What can I do for you?"
    down = [s.name for s in statuses if s.state == "failed"]
    if len(down) == 1:
        text += f" Note that I can't reach the {down[0]} server right now."
    elif down:
        names = ", ".join(down[:-1]) + f" and {down[-1]}"
        text += f" Note that I can't reach the {names} servers right now."
    return text


class VoxAgent(Agent):
    """The seed recipe's agent: instructions, MCP tools, and a greeting on entry."""

    def __init__(self, *, instructions: str, tools: list[llm.Tool | llm.Toolset], greeting: str | None) -> None:
        super().__init__(instructions=instructions, tools=tools)
        self._greeting = greeting

    async def on_enter(self) -> None:
        if self._greeting:
            show_in_text_console(self._greeting)
            # not added to the chat context: a small model that sees its own chat turn stops calling tools
            self.session.say(self._greeting, allow_interruptions=True, add_to_chat_ctx=False)


def show_in_text_console(text: str) -> None:
    """Print an agent line in LiveKit's console in text mode, the way it prints the agent's turns.

    Why: that console prints only what `session.run()` returns, and the greeting (which says which servers are
    down) is no run: typed conversations never showed it. Anywhere else (audio console, rooms, talk) a no-op.
    """
    from livekit.agents.cli import AgentsConsole

    console = AgentsConsole.get_instance()
    printer = getattr(console, "console", None)  # the rich Console of LiveKit's interactive console
    if not console.enabled or console.console_mode != "text" or printer is None:
        return
    from rich.text import Text

    printer.print()
    printer.print(Text.assemble(("  \u25cf ", "#6BCB77"), ("Agent", "bold #6BCB77")))
    printer.print(Text(f"    {text}"))


def session_stt(models: Models, settings: Settings, *, vocabulary: SpeechVocabulary | None = None) -> stt.STT[Any]:
    """The STT a session uses. Whisper gets a per-session copy biased toward the session's tool words, prompted with
    the greeting (user-side WER on the eval suite 0.164 -> 0.105, no measurable decode cost), and decodes during
    the end-of-turn silence."""
    base = models.stt
    if vocabulary is not None and isinstance(base, WhisperSTT):
        base = base.with_context(vocabulary=vocabulary, initial_prompt=greeting_text(settings, []))
    if base.capabilities.streaming:
        return base
    return EagerSTTAdapter(stt=base, vad=models.vad, eager_after_s=settings.voice.eager_stt_after_s)


def speech_vocabulary(hub: MCPHub) -> SpeechVocabulary:
    """The words of the session's tools (and of the stand-ins for servers that are down), for the recognizer."""
    tools: list[Any] = list(hub.tool_infos())
    tools += [ToolText(f"{s.name}_server", f"Anything about {s.name}") for s in hub.statuses() if s.state == "failed"]
    return build_vocabulary(tools)


def session_tts(models: Models) -> tts.TTS[Any]:
    """The TTS a session uses: a non-streaming one (hibari) starts speaking at the first clause of a reply."""
    if models.tts.capabilities.streaming:
        return models.tts
    return tts.StreamAdapter(tts=models.tts, sentence_tokenizer=FirstClauseTokenizer())


def session_text_transforms(models: Models) -> list[Any]:
    """LiveKit's transforms on text before TTS. Its streaming markdown filter holds back any text that ends in a
    space until more arrives, which kept the tool preamble ("One moment. ") silent until the call was generated;
    voxmcp's local engines clean markdown themselves, so with them only the emoji filter runs."""
    if getattr(models.tts, "cleans_markdown", False):
        return ["filter_emoji"]
    return ["filter_markdown", "filter_emoji"]


def session_turn_detection(
    models: Models, settings: Settings
) -> tuple[inference.TurnDetector | Literal["vad"], EndpointingOptions]:
    """How a session ends the user's turn: with the end-of-turn model (`model_min_delay_s` after a sentence it hears
    as finished, `model_max_delay_s` after one it hears going on) when it was asked for and loaded, else on VAD
    silence plus `endpointing_min_s`."""
    v = settings.voice
    detector = getattr(models, "turn_detector", None)  # tests hand in models without one
    if v.turn_detection == "model" and detector is not None:
        return detector, {"min_delay": v.model_min_delay_s, "max_delay": v.model_max_delay_s}
    return "vad", {"min_delay": v.endpointing_min_s, "max_delay": 3.0}


def build_session(
    models: Models,
    settings: Settings,
    *,
    interruptions: bool = True,
    stt_: stt.STT[Any] | None = None,
    llm_: llm.LLM[Any] | None = None,
) -> AgentSession[Any]:
    """`llm_`: the LLM the session talks to (the runtime passes the models' LLM inside the turn policy)."""
    detection, endpointing = session_turn_detection(models, settings)
    return AgentSession(
        vad=models.vad,
        stt=stt_ if stt_ is not None else session_stt(models, settings),
        llm=llm_ if llm_ is not None else models.llm,
        tts=session_tts(models),
        turn_handling={
            "turn_detection": detection,
            "endpointing": endpointing,
            "interruption": {"enabled": interruptions, "mode": "vad", "min_duration": 0.4},
            "preemptive_generation": {"enabled": settings.voice.preemptive_generation},
        },
        tts_text_transforms=session_text_transforms(models),
        max_tool_steps=settings.agent.max_tool_steps,
        user_away_timeout=None,
        aec_warmup_duration=None,
    )


class VoiceAgentRuntime:
    """One conversation's wiring: MCP hub + prefilled LLM + AgentSession + VoxAgent. Use as an async context."""

    def __init__(self, settings: Settings, models: Models, *, greet: bool | None = None) -> None:
        self.settings = settings
        self.models = models
        self.greet = settings.agent.greeting if greet is None else greet
        self.session: AgentSession[Any] | None = None
        self.voice = VoicePolicies(
            lambda: self.session,
            llm=models.llm,
            confirm_destructive=settings.voice.confirm_destructive,
            filler=settings.voice.filler,
            progress_interval_s=settings.voice.progress_interval_s,
        )
        self.hub = MCPHub(
            settings.mcp_servers(),
            handlers=self.voice.handlers(),
            auth_factory=_auth_factory(),
            connect_timeout_s=settings.mcp.connect_timeout_s,
        )
        self.statuses: list[ServerStatus] = []
        self.agent: VoxAgent | None = None
        self.stt: stt.STT[Any] | None = None
        self.timings: dict[str, float] = {}

    def tools(self) -> list[llm.Tool | llm.Toolset]:
        tools: list[llm.Tool | llm.Toolset] = list(self.hub.function_tools())
        tools += stand_in_tools(self.hub)
        return self.voice.wrap_tools(tools, self.hub)

    async def prepare(self) -> None:
        """Connect MCP servers and prefill the LLM's KV cache with the system prompt + tool schemas."""
        t0 = time.perf_counter()
        self.statuses = await self.hub.start()
        self.timings["mcp_connect_s"] = round(time.perf_counter() - t0, 3)
        for s in self.statuses:
            if s.state != "connected":
                logger.warning("MCP server unavailable", extra={"server": s.name, "error": s.error})
        prefill = getattr(self.models.llm, "prefill", None)
        if callable(prefill):
            t1 = time.perf_counter()
            servers = sum(s.state == "connected" for s in self.statuses)  # named in the LLM's too-many-tools warning
            n = await prefill(self.settings.agent.instructions, self.tools(), servers=servers)
            self.timings["llm_prefill_s"] = round(time.perf_counter() - t1, 3)
            self.timings["llm_prefill_tokens"] = n
        self.hub.on_tools_changed = self._tools_changed

    def new_session(self, *, interruptions: bool = True) -> tuple[AgentSession[Any], VoxAgent]:
        greeting = greeting_text(self.settings, self.statuses) if self.greet else None
        self.agent = VoxAgent(instructions=self.settings.agent.instructions, tools=self.tools(), greeting=greeting)
        self.stt = session_stt(self.models, self.settings, vocabulary=speech_vocabulary(self.hub))
        self.session = build_session(
            self.models,
            self.settings,
            interruptions=interruptions,
            stt_=self.stt,
            llm_=self.turn_policy() if self.settings.agent.turn_policy else None,
        )
        return self.session, self.agent

    def turn_policy(self) -> TurnPolicyLLM:
        """The models' LLM inside the turn policy, told which tools are read-only and how each call ended."""
        return TurnPolicyLLM(
            self.models.llm,
            PolicyOptions(
                preamble=self.settings.voice.tool_preamble or None,
                max_repairs=self.settings.agent.max_repairs,
                may_change_things=self._may_change_things,
                outcome_of=self.voice.outcome_of,
            ),
        )

    def _may_change_things(self, tool: str) -> bool:
        try:
            annotations = self.hub.tool_info(tool).annotations
        except KeyError:  # call_tool, resources, stand-ins: can't tell, so they may
            return True
        return not (annotations is not None and annotations.read_only_hint)

    def _tools_changed(self, _tools: list[Any]) -> None:
        whisper = self.stt.wrapped_stt if isinstance(self.stt, EagerSTTAdapter) else self.stt
        if isinstance(whisper, WhisperSTT):
            whisper.set_vocabulary(speech_vocabulary(self.hub))
        if self.agent is None:
            return
        asyncio.get_running_loop().create_task(self.agent.update_tools(self.tools()))

    async def aclose(self) -> None:
        if self.session is not None:
            await self.session.aclose()
        await self.hub.aclose()

    async def __aenter__(self) -> VoiceAgentRuntime:
        await self.prepare()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _auth_factory() -> Any:
    try:
        from voxmcp.mcp.auth import build_auth
    except ImportError:  # pragma: no cover - auth is part of the package
        return None
    return build_auth


# ---- the LiveKit worker (voxmcp dev | start | console) -------------------------------------------------


def prewarm(proc: JobProcess) -> None:
    """Load every model once per process, as the recipe does for the VAD."""
    settings = load_settings(os.environ.get("VOXMCP_CONFIG"))
    proc.userdata["settings"] = settings
    proc.userdata["models"] = load_models(settings)


server = AgentServer()
server.setup_fnc = prewarm


def configure_server(srv: AgentServer, settings: Settings) -> None:
    """Apply the `[livekit]` table before the worker starts.

    LiveKit's production defaults assume one worker per host: a health server on port 8081 of every interface, a
    10 s prewarm budget and a load that is the host's CPU. voxmcp runs several workers on a small CPU, so the health
    server gets a free loopback port by default (no public setter exists for it), and `max_jobs` turns the load
    into a session count.
    """
    lk = settings.livekit
    srv._host = lk.health_host
    srv._port = lk.health_port
    opts: dict[str, Any] = {"initialize_process_timeout": lk.initialize_process_timeout_s}
    if lk.url:  # unset keeps console mode local (a URL makes LiveKit want API credentials)
        opts["ws_url"] = lk.url
    if lk.num_idle_processes is not None:
        opts["num_idle_processes"] = lk.num_idle_processes
    if lk.api_key is not None:
        opts["api_key"] = lk.api_key.get_secret_value()
    if lk.api_secret is not None:
        opts["api_secret"] = lk.api_secret.get_secret_value()
    if lk.max_jobs > 0:
        max_jobs = lk.max_jobs

        def session_load(s: AgentServer) -> float:
            return min(1.0, len(s.active_jobs) / max_jobs)

        srv.load_fnc = session_load
        opts["load_threshold"] = 0.999
    srv.update_options(**opts)
    if lk.agent_name and not os.environ.get("LIVEKIT_AGENT_NAME_OVERRIDE"):
        srv._agent_name = lk.agent_name


@server.rtc_session()
async def entrypoint(ctx: JobContext) -> None:
    ctx.log_context_fields = {"room": ctx.room.name}
    settings: Settings = ctx.proc.userdata.get("settings") or load_settings(os.environ.get("VOXMCP_CONFIG"))
    models: Models = ctx.proc.userdata.get("models") or load_models(settings)
    runtime = VoiceAgentRuntime(settings, models)
    await runtime.prepare()
    session, agent = runtime.new_session()
    ctx.add_shutdown_callback(runtime.aclose)
    await session.start(agent=agent, room=ctx.room)
    await ctx.connect()
