"""Runs a suite's scenarios through voxmcp's whole audio pipeline in-process and scores each one.

Models are loaded once by the caller and shared; each scenario gets its own MCP connections and AgentSession
(a TalkSession), its user turns spoken by a synthetic user voice (espeak-ng or piper, never the agent's own), and the
agent's last answer transcribed back by a separate Whisper instance to check the facts it must carry. Every scenario
runs once per user voice.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from voxmcp.app import Models
from voxmcp.audio.speech import speech_bounds
from voxmcp.audio.wav import MonoAudio, resample
from voxmcp.config import ModelRef, Settings
from voxmcp.evals.agent_log import agent_log
from voxmcp.evals.driver import ConversationDriver, TalkSession, TurnResult
from voxmcp.evals.schema import Elicitation, Scenario, Suite
from voxmcp.evals.scoring import ActualCall, SpokenTurn, score_scenario, wer
from voxmcp.evals.servers import ServerPool
from voxmcp.evals.voice import (
    UserVoice,
    UserVoiceError,
    add_noise,
    parse_voice,
    piper_model_path,
    spoken_text,
    synthesize,
)
from voxmcp.mcp.interaction import ElicitFn, ElicitReply
from voxmcp.talk import ToolCallRecord

logger = logging.getLogger(__name__)

NOISE_PAD_S = 0.3
TYPED_SETTLE_S = 0.6
"""Quiet time that ends a typed turn: no audio to finish playing, only a tool step or an answer still to come."""


class AnswerTranscriber:
    """Whisper tiny.en, separate from the agent's STT instance: what a listener would hear the agent say."""

    def __init__(self, model_id: str = "whisper-tiny.en") -> None:
        from faster_whisper import WhisperModel

        from voxmcp.models.weights import resolve

        path = resolve(model_id, progress=False)
        self._model = WhisperModel(str(path), device="cpu", compute_type="int8", cpu_threads=2)

    def transcribe(self, audio: MonoAudio) -> str:
        if audio.duration < 0.1:
            return ""
        samples = resample(audio, 16000).to_float()
        segments, _ = self._model.transcribe(samples, language="en", beam_size=5)
        return " ".join(s.text.strip() for s in segments).strip()


@dataclass
class TurnRecord:
    said: str
    heard_by_agent: str
    wer: float | None
    agent_text: list[str]
    tool_calls: list[dict[str, Any]]
    timings: dict[str, float]
    interrupted: bool
    barge_in: bool = False
    noise_snr_db: float | None = None
    errors: list[str] = field(default_factory=list)


@dataclass
class ScenarioResult:
    name: str
    category: str
    success: bool
    failures: list[str]
    turns: list[TurnRecord]
    heard_answer: str
    duration_s: float
    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0
    facts_checked: int = 0
    facts_held: int = 0
    elicitations: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    voice: str = "espeak:en-us"
    """The user voice this run spoke with (reports written before voices existed all used espeak en-us)."""
    display_name: str = ""
    """`name@voice` when the run used more than one user voice, else the scenario's name."""
    agent_log: list[str] = field(default_factory=list)
    """The agent's decision logs during the run (agent_log.py): why a call was rejected, retried or not made."""
    suite: str = ""
    """The suite the scenario belongs to (tune, heldout, cross-server...)."""
    unbacked_claims: list[str] = field(default_factory=list)
    """What the agent said it did with no successful call to back it (the honesty check)."""
    state: dict[str, str | None] | None = None
    """What the scenario's state checks read on the servers afterwards (`StateCheck.key` -> text, None: no file)."""

    def __post_init__(self) -> None:
        if not self.display_name:
            self.display_name = self.name

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


TYPED = "typed"
"""The voice label of a typed run of the script (`--typed`): the user's words go in as text, not speech."""


def typed_label(voice: UserVoice | str) -> str:
    """The voice label of a run that types what `voice`'s speech was heard as in an earlier report."""
    return f"{voice} typed"


def needs_speech(sc: Scenario) -> bool:
    """A scenario that can't be typed: a barge-in interrupts speech, and a form is answered by voice mid-call."""
    return sc.elicitation is not None or any(t.barge_in is not None for t in sc.turns)


def heard_transcripts(report: Mapping[str, Any]) -> dict[tuple[str, str], list[str]]:
    """(scenario, voice) -> what the agent's STT heard in each user turn of an earlier report: typed again
    (`--typed-from`), the same input reaches the LLM without speech, so a change to the LLM or the turn policy is
    judged on exactly the transcripts the voice run produced, in a fraction of the time."""
    heard: dict[tuple[str, str], list[str]] = {}
    for r in report.get("results", []):
        turns = [str(t.get("heard_by_agent", "")) for t in r.get("turns", []) if not t.get("barge_in")]
        heard[(str(r.get("name")), str(r.get("voice")))] = turns
    return heard


def run_name(scenario: str, voice: UserVoice | str, *, several_voices: bool) -> str:
    """How a run is shown: `weather-paris@piper:joe` when the scenario runs under several voices."""
    return f"{scenario}@{voice}" if several_voices else scenario


def agent_voice_clash(voice: UserVoice, tts: ModelRef) -> str | None:
    """Why `voice` can't be a user voice next to the agent's TTS `tts` (it would be the agent's own voice), or None."""
    if tts.provider != "local":
        return None
    if tts.model in ("espeak-ng", "espeak") and voice.engine == "espeak":
        return f"the agent speaks with espeak-ng ({tts}), so the user voice {voice} would sound like the agent"
    if tts.model == "piper-joe" and voice.engine == "piper":
        if voice.name == "joe":
            return f"the agent speaks with piper joe ({tts}), the same voice as the user voice {voice}"
        try:
            same = piper_model_path(voice.name).resolve() == piper_model_path("joe").resolve()
        except UserVoiceError:
            same = False
        if same:
            return f"the agent speaks with piper joe ({tts}); the user voice {voice} is the same voice file"
    return None


def check_user_voices(voices: Iterable[UserVoice | str], tts: ModelRef) -> list[UserVoice]:
    """The voices parsed; UserVoiceError when one is the agent's voice (a user must not sound like the agent)."""
    parsed = [parse_voice(v) for v in voices]
    for v in parsed:
        why = agent_voice_clash(v, tts)
        if why is not None:
            raise UserVoiceError(f"{why}; pick another user voice (--voice, or `voices` in the suite) or agent TTS")
    return parsed


def scenario_settings(base: Settings, servers: Mapping[str, Any]) -> Settings:
    """`base` with exactly these MCP servers (no demo fallback, no mcp.json)."""
    mcp = base.mcp.model_copy(update={"servers": dict(servers), "use_demo_server": False, "mcp_json": None})
    return base.model_copy(update={"mcp": mcp})


class ReplyLog:
    """Every reply (speech handle) the session starts, with when it started.

    A barge-in can cut a reply before any of it is heard (the agent was still thinking, or running a tool):
    the recorded audio can't show that interruption, the reply's handle can.
    """

    def __init__(self, session: Any, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._replies: list[tuple[float, Any]] = []
        session.on("speech_created", self._on_speech)

    def _on_speech(self, ev: Any) -> None:
        self._replies.append((self._clock(), ev.speech_handle))

    def interrupted_between(self, start: float, end: float) -> bool:
        """Whether a reply started in (start, end] was interrupted (wall-clock times, time.time())."""
        return any(bool(handle.interrupted) for at, handle in self._replies if start < at <= end)


def reclaim_barge_in_calls(
    calls: list[ToolCallRecord], first: TurnResult, barge: TurnResult, barge_started: float
) -> None:
    """Give the interrupted turn the calls that finished while the user was barging in: they are its calls, but
    the driver's windows (up to the barge-in's start, from the barge-in's end) leave them out of both turns."""
    known = {id(c) for c in first.tool_calls + barge.tool_calls}
    first.tool_calls += [c for c in calls if id(c) not in known and barge_started < c.finished_at <= barge.speech_end]


def _elicit_handler(script: Elicitation, log: list[str]) -> ElicitFn:
    async def elicit(server: str, message: str, schema: dict[str, Any]) -> ElicitReply:
        log.append(f"{server}: {message}")
        return (
            {"action": script.action, "content": dict(script.content)} if script.action == "accept" else script.action
        )

    return elicit


ToolFacts = Mapping[str, tuple[str, bool | None]]
"""Exposed tool name -> (suite server, readOnlyHint) for the tools a scenario's agent was given."""


def tool_facts(runtime: Any) -> dict[str, tuple[str, bool | None]]:
    """Which server offers each exposed tool and whether it is read-only, from the runtime's MCP hub."""
    hub = getattr(runtime, "hub", None)
    infos = hub.tool_infos() if hub is not None else []
    return {
        info.exposed_name or info.name: (
            info.server,
            info.annotations.read_only_hint if info.annotations is not None else None,
        )
        for info in infos
    }


def _call_record(c: ToolCallRecord, facts: ToolFacts) -> dict[str, Any]:
    """One call for the report; a call through `call_tool` (progressive discovery) is the tool it named."""
    target = c.name
    if c.name not in facts:
        try:
            named = json.loads(c.arguments or "{}").get("name")
        except (ValueError, AttributeError):
            named = None
        if isinstance(named, str) and named in facts:
            target = named
    server, read_only = facts.get(target, (None, None))
    return {
        "name": c.name,
        "arguments": c.arguments,
        "output": c.output[:500],
        "is_error": c.is_error,
        "server": server,
        "read_only": read_only,
    }


def _record(
    turn: TurnResult,
    said: str,
    *,
    barge_in: bool,
    snr: float | None,
    reply_cut: bool = False,
    facts: ToolFacts | None = None,
) -> TurnRecord:
    """`reply_cut`: the agent's reply was interrupted before it was heard (see ReplyLog)."""
    heard = " ".join(turn.user_text_heard)
    return TurnRecord(
        said=said,
        heard_by_agent=heard,
        wer=round(wer(said, heard), 4),
        agent_text=list(turn.agent_text),
        tool_calls=[_call_record(c, facts or {}) for c in turn.tool_calls],
        timings=dict(turn.timings),
        interrupted=turn.interrupted or reply_cut,
        barge_in=barge_in,
        noise_snr_db=snr,
        errors=[e for e in turn.errors if e.startswith("no complete") or e.startswith("the agent said")],
    )


def scored(
    sc: Scenario,
    records: list[TurnRecord],
    heard: str,
    failures: list[str],
    duration_s: float,
    elicitations: list[str] | None = None,
    timings: dict[str, float] | None = None,
    *,
    voice: str = "espeak:en-us",
    display_name: str = "",
    agent_log: list[str] | None = None,
    state: dict[str, str | None] | None = None,
) -> ScenarioResult:
    """Score one conversation against the scenario's expectations (`failures`: what already went wrong; `state`:
    the servers' state after it, None when it was not read, e.g. in an old report)."""
    per_turn = [[_actual(c) for c in t.tool_calls] for t in records]
    calls = [c for turn in per_turn for c in turn]
    spoken = [SpokenTurn(" ".join(t.agent_text), tc) for t, tc in zip(records, per_turn, strict=True)]
    score = score_scenario(
        sc.expect,
        calls,
        heard,
        agent_replies=sum(1 for t in records if t.agent_text),  # a filler and its answer: one reply
        interrupted=any(t.interrupted for t in records[:-1]) if len(records) > 1 else None,
        errors=failures,
        spoken=spoken,
        state=state,
    )
    return ScenarioResult(
        name=sc.name,
        category=sc.category,
        success=score.success,
        failures=score.failures,
        turns=records,
        heard_answer=heard,
        duration_s=duration_s,
        true_positives=score.true_positives,
        false_positives=score.false_positives,
        false_negatives=score.false_negatives,
        facts_checked=score.facts_checked,
        facts_held=score.facts_held,
        elicitations=elicitations or [],
        timings=timings or {},
        voice=voice,
        display_name=display_name or sc.name,
        agent_log=agent_log or [],
        suite=sc.suite,
        unbacked_claims=score.unbacked_claims,
        state=state,
    )


def _actual(c: Mapping[str, Any]) -> ActualCall:
    return ActualCall.from_json(
        c["name"], c["arguments"], c["output"], c["is_error"], read_only=c.get("read_only"), server=c.get("server")
    )


_RUN_FAILURES = ("scenario timed out", "could not run")


def rescore(suites: Suite | Sequence[Suite], report: Mapping[str, Any]) -> list[ScenarioResult]:
    """A finished report's conversations scored again against the suites' (perhaps edited) expectations and the
    current scoring rules, without running anything. Scenarios no longer in any suite are left out."""
    suites = [suites] if isinstance(suites, Suite) else list(suites)
    by_key = {(s.suite, s.name): s for suite in suites for s in suite.scenarios}
    by_name: dict[str, Scenario] = {}
    for suite in suites:
        for s in suite.scenarios:
            by_name.setdefault(s.name, s)
    out: list[ScenarioResult] = []
    for r in report.get("results", []):
        sc = by_key.get((r.get("suite", ""), r["name"])) or by_name.get(r["name"])  # old reports: no suite
        if sc is None:
            logger.warning("scenario not in the suite; left out", extra={"scenario": r["name"]})
            continue
        records = [TurnRecord(**t) for t in r["turns"]]
        failures = [f for f in r["failures"] if f.startswith(_RUN_FAILURES)]
        failures += [e for t in records for e in t.errors]
        out.append(
            scored(
                sc,
                records,
                r["heard_answer"],
                failures,
                r["duration_s"],
                r.get("elicitations"),
                r.get("timings"),
                voice=r.get("voice", "espeak:en-us"),
                display_name=r.get("display_name", sc.name),
                agent_log=r.get("agent_log"),
                state=r.get("state"),
            )
        )
    return out


def suite_voices(suite: Suite, voices: Sequence[UserVoice | str] | None = None) -> list[UserVoice]:
    """The voices a run uses: `voices` (e.g. from --voice) or else the suite's `defaults.voices`, deduplicated."""
    chosen = [parse_voice(v) for v in (voices or suite.defaults.voices)]
    return list(dict.fromkeys(chosen))


def turn_voices(suite: Suite) -> list[UserVoice]:
    """The per-turn voice overrides in the suite (spoken under every run)."""
    return list(dict.fromkeys(parse_voice(t.voice) for s in suite.scenarios for t in s.turns if t.voice is not None))


class EvalRunner:
    """Runs scenarios, each once per user voice, sharing the loaded models and the MCP server pool."""

    def __init__(
        self,
        suite: Suite,
        settings: Settings,
        models: Models,
        workdir: Path,
        transcriber: AnswerTranscriber,
        voices: Sequence[UserVoice | str] | None = None,
        *,
        typed: Mapping[tuple[str, str], list[str]] | None = None,
    ) -> None:
        """`typed`: type the turns instead of speaking them; each (scenario, voice) found in it types what that
        voice was heard as (see heard_transcripts), and an empty mapping types the script once per scenario."""
        self.typed = typed
        self.voices = suite_voices(suite, voices)
        if typed is not None and not typed:
            self.voices = self.voices[:1]
        check_user_voices([*self.voices, *turn_voices(suite)], settings.models.tts)  # before anything starts
        self.suite = suite
        self.settings = settings
        self.models = models
        self.workdir = workdir
        self.transcriber = transcriber
        self.pool = ServerPool(dict(suite.servers), workdir)
        self.voice_cache = workdir / "voices"

    def _speak(self, text: str, turn_voice: str | None, run_voice: UserVoice) -> MonoAudio:
        d = self.suite.defaults
        voice = parse_voice(turn_voice) if turn_voice is not None else run_voice
        return synthesize(text, self.voice_cache, voice=voice, words_per_minute=d.words_per_minute)

    def plan(self, scenarios: Sequence[Scenario]) -> list[tuple[Scenario, UserVoice]]:
        """Every scenario under every voice, scenario by scenario (the suite's order keeps server sets together)."""
        return [(sc, v) for sc in scenarios for v in self.voices]

    def voice_label(self, voice: UserVoice) -> str:
        if self.typed is None:
            return str(voice)
        return typed_label(voice) if self.typed else TYPED

    def display_name(self, sc: Scenario, voice: UserVoice) -> str:
        return run_name(sc.name, self.voice_label(voice), several_voices=len(self.voices) > 1)

    async def run(
        self, scenarios: list[Scenario], on_done: Callable[[ScenarioResult], None] | None = None
    ) -> list[ScenarioResult]:
        results: list[ScenarioResult] = []
        try:
            for sc, voice in self.plan(scenarios):
                result = await self.run_scenario(sc, voice)
                results.append(result)
                if on_done is not None:
                    on_done(result)
        finally:
            await self.pool.aclose()
        return results

    async def run_scenario(self, sc: Scenario, voice: UserVoice | None = None) -> ScenarioResult:
        voice = voice or self.voices[0]
        t0 = time.perf_counter()
        records: list[TurnRecord] = []
        turn_results: list[TurnResult] = []
        elicitations: list[str] = []
        failures: list[str] = []
        timings: dict[str, float] = {}
        limit = self.suite.defaults.scenario_timeout_s
        decisions: list[str] = []
        try:
            with agent_log(decisions):
                await asyncio.wait_for(
                    self._converse(sc, voice, records, turn_results, elicitations, timings), timeout=limit
                )
        except TimeoutError:
            failures.append(f"scenario timed out after {limit:.0f} s")
        except Exception as e:  # a broken scenario is a failed scenario, not a failed run
            logger.exception("scenario failed to run", extra={"scenario": sc.name, "voice": str(voice)})
            failures.append(f"could not run: {type(e).__name__}: {e}")
        heard = ""
        last = turn_results[-1] if turn_results else None
        if last is not None and self.typed is not None:
            heard = " ".join(t.strip() for t in last.agent_text)  # a typed conversation is answered in text
        elif last is not None and last.agent_audio is not None:
            heard = await asyncio.to_thread(self.transcriber.transcribe, last.agent_audio)
        for r in records:
            failures.extend(r.errors)
        state = {c.key: self.pool.state_text(c.server, c.file) for c in sc.expect.state} if sc.expect.state else None
        return scored(
            sc,
            records,
            heard,
            failures,
            round(time.perf_counter() - t0, 2),
            elicitations,
            timings,
            voice=self.voice_label(voice),
            display_name=self.display_name(sc, voice),
            agent_log=decisions,
            state=state,
        )

    async def _converse(
        self,
        sc: Scenario,
        voice: UserVoice,
        records: list[TurnRecord],
        turn_results: list[TurnResult],
        elicitations: list[str],
        timings: dict[str, float],
    ) -> None:
        configs = await self.pool.configs(sc.servers)
        settings = scenario_settings(self.settings, configs)
        elicit = _elicit_handler(sc.elicitation, elicitations) if sc.elicitation is not None else None
        barge = any(t.barge_in is not None for t in sc.turns)
        d = self.suite.defaults
        timeout = sc.timeout_s or d.timeout_s
        typed = self.typed is not None
        talk = TalkSession(settings, self.models, greet=sc.greet, interruptions=barge, elicit=elicit, speech=not typed)
        async with talk as driver:
            replies = ReplyLog(driver.session)
            timings.update(talk.timings)
            if typed:
                await self._type(sc, voice, talk, driver, records, turn_results, timeout)
                return
            for i, turn in enumerate(sc.turns):
                audio = self._speak(turn.say, turn.voice, voice)
                speech_end: float | None = None
                if turn.noise_snr_db is not None:
                    speech_end = NOISE_PAD_S + float(speech_bounds(audio)[1])
                    audio = add_noise(audio, turn.noise_snr_db, pad_s=NOISE_PAD_S)
                barge_audio = self._speak(turn.barge_in.say, turn.voice, voice) if turn.barge_in is not None else None
                results = await driver.turn(
                    audio,
                    barge_in=barge_audio,
                    barge_in_after_s=turn.barge_in.after_s if turn.barge_in is not None else 1.0,
                    settle_s=d.settle_s,
                    timeout_s=timeout,
                    speech_end_s=speech_end,
                    # a question the agent asks mid-call (a voice form) is no chat message: its audio is the reply
                    more_to_say=i < len(sc.turns) - 1,
                )
                turn_results.extend(results)
                cut = False
                if barge_audio is not None and len(results) > 1:
                    first, answer = results
                    barge_started = answer.speech_end - float(speech_bounds(barge_audio)[1])
                    reclaim_barge_in_calls(driver.tool_calls, first, answer, barge_started)
                    cut = replies.interrupted_between(first.speech_end - 1.0, barge_started)
                facts = tool_facts(talk.runtime)  # now: a server's tool list may have changed mid-scenario
                records.append(
                    _record(
                        results[0],
                        spoken_text(turn.say),
                        barge_in=False,
                        snr=turn.noise_snr_db,
                        reply_cut=cut,
                        facts=facts,
                    )
                )
                if turn.barge_in is not None and len(results) > 1:
                    said = spoken_text(turn.barge_in.say)
                    records.append(_record(results[1], said, barge_in=True, snr=None, facts=facts))
                if any(not r.completed for r in results):
                    break

    async def _type(
        self,
        sc: Scenario,
        voice: UserVoice,
        talk: TalkSession,
        driver: ConversationDriver,
        records: list[TurnRecord],
        turn_results: list[TurnResult],
        timeout_s: float,
    ) -> None:
        """The scenario's turns typed: the script's words, or what `voice` was heard as in the typed-from report."""
        heard = (self.typed or {}).get((sc.name, str(voice)))
        if self.typed and heard is None:
            logger.warning("no transcript in the typed-from report; typing the script", extra={"scenario": sc.name})
        settle = min(self.suite.defaults.settle_s, TYPED_SETTLE_S)
        for i, turn in enumerate(sc.turns):
            said = spoken_text(turn.say)  # a pause marker is no word to type
            text = heard[i] if heard is not None and i < len(heard) else said
            if not text.strip():
                records.append(_record(TurnResult(), said, barge_in=False, snr=None))  # nothing was heard
                continue
            result = await driver.type_turn(text, settle_s=settle, timeout_s=timeout_s)
            turn_results.append(result)
            records.append(_record(result, said, barge_in=False, snr=None, facts=tool_facts(talk.runtime)))
            if not result.completed:
                break
