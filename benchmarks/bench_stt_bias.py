"""User-side WER and decode time of whisper configurations on every user utterance of an eval suite.

Each utterance is synthesized as the eval does (a user voice, by default espeak-ng en-us, 150 wpm, white noise at the
turn's SNR with 0.3 s of padding), cut by Silero VAD as the agent's StreamAdapter cuts it (min silence 0.35 s, the app's
default) and each VAD segment decoded by `WhisperSTT.transcribe`; what the agent hears is the segments' texts joined.
Tool vocabulary per scenario comes from the tools of the scenario's servers (a JSON dump of their `tools/list`).

    .venv/bin/python benchmarks/bench_stt_bias.py [--voice SPEC] [--configs NAME,...] [--json OUT] [--limit N]

`--voice` is a user voice spec as in the eval suite (`espeak:en-us`, `piper:joe`, `piper:/path/model.onnx`), so the
user-side WER can be measured per voice.

Decode time is the sum over an utterance's segments (the VAD cuts most utterances into one segment). Figures move with
the machine's load: the load average is recorded in the output.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from livekit.agents import utils
from livekit.agents.vad import VADEventType

from livekit import rtc
from voxmcp.audio.wav import MonoAudio
from voxmcp.evals.schema import DownServer, load_suite
from voxmcp.evals.scoring import word_errors
from voxmcp.evals.voice import UserVoice, UserVoiceError, add_noise, parse_voice, synthesize
from voxmcp.models.stt import WhisperSTT
from voxmcp.models.vad import build_silero_vad
from voxmcp.models.vocabulary import SpeechVocabulary, ToolText, build_vocabulary

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
TOOLS_JSON = ROOT / "tests" / "models" / "fixtures" / "eval_tools.json"
NOISE_PAD_S = 0.3  # as evals/runner.py
GREETING = "Hi! What can I do for you?"


@dataclass
class Utterance:
    scenario: str
    category: str
    text: str
    snr_db: float | None
    servers: list[str]
    previous: int | None  # index of the scenario's previous user utterance (conversation context)
    segments: list[npt.NDArray[np.float32]] = field(default_factory=list)
    whole: npt.NDArray[np.float32] | None = None


@dataclass(frozen=True)
class Config:
    """One decoding configuration; `vocab` builds the scenario's vocabulary, `context` adds the previous turn."""

    name: str
    model: str = "whisper-tiny.en"
    stt: dict[str, Any] = field(default_factory=dict)
    vocab: Callable[[list[ToolText]], SpeechVocabulary | None] | None = None
    context: bool = False
    prompt: str | None = None
    prompt_fn: Callable[[list[ToolText]], str] | None = None  # an initial prompt built from the tools (experiments)
    whole: bool = False  # decode the unsegmented utterance instead of the VAD's segments


def tools_for(servers: list[str], dump: dict[str, list[dict[str, Any]]], down: set[str]) -> list[ToolText]:
    tools: list[ToolText] = []
    for name in servers:
        if name in down:  # the app's stand-in for a server that is down
            tools.append(ToolText(f"{name}_server", f"The '{name}' tool server, which is unreachable right now."))
            continue
        tools += [ToolText(t["name"], t.get("description"), t.get("input_schema")) for t in dump.get(name, [])]
    return tools


def collect(suite_path: Path) -> tuple[list[Utterance], set[str]]:
    suite = load_suite(suite_path)
    down = {name for name, spec in suite.servers.items() if isinstance(spec, DownServer)}
    out: list[Utterance] = []
    for sc in suite.scenarios:
        previous: int | None = None
        for turn in sc.turns:
            out.append(Utterance(sc.name, sc.category, turn.say, turn.noise_snr_db, list(sc.servers), previous))
            previous = len(out) - 1
            if turn.barge_in is not None:
                out.append(Utterance(sc.name, sc.category, turn.barge_in.say, None, list(sc.servers), previous))
                previous = len(out) - 1
    return out, down


async def segment(audio: MonoAudio, vad: Any) -> list[npt.NDArray[np.float32]]:
    """The VAD's speech segments, as the StreamAdapter hands them to the STT (20 ms frames; 1 s of silence before and
    after, as the eval's scripted microphone plays silence between turns)."""
    stream = vad.stream()
    quiet = MonoAudio(samples=np.zeros(audio.sample_rate, np.int16), sample_rate=audio.sample_rate)
    for frame in [*quiet.frames(20), *audio.frames(20), *quiet.frames(20)]:
        stream.push_frame(frame)
    stream.end_input()
    segments: list[npt.NDArray[np.float32]] = []
    async for ev in stream:
        if ev.type == VADEventType.END_OF_SPEECH:
            merged: rtc.AudioFrame = utils.merge_frames(ev.frames)
            pcm = np.frombuffer(merged.data, np.int16)
            segments.append(MonoAudio(samples=pcm.copy(), sample_rate=merged.sample_rate).to_float())
    await stream.aclose()
    return segments


def prepare(utterances: list[Utterance], cache: Path, voice: UserVoice) -> None:
    vad = build_silero_vad(min_silence_duration=0.35)

    async def run() -> None:
        for u in utterances:
            audio = synthesize(u.text, cache, voice=voice)
            if u.snr_db is not None:
                audio = add_noise(audio, u.snr_db, pad_s=NOISE_PAD_S)
            u.whole = audio.to_float()
            u.segments = await segment(audio, vad)

    asyncio.run(run())


def names_only(tools: list[ToolText]) -> SpeechVocabulary:
    return build_vocabulary(tools, parameters=False, enums=False)


def default_vocab(tools: list[ToolText]) -> SpeechVocabulary:
    return build_vocabulary(tools)


def big_vocab(tools: list[ToolText]) -> SpeechVocabulary:
    return build_vocabulary(tools, max_terms=60, max_chars=600)


def sentences(tools: list[ToolText]) -> str:
    """Each term as a capitalized sentence, like earlier commands in the transcript."""
    return " ".join(t[:1].upper() + t[1:] + "." for t in build_vocabulary(tools).terms)


def names_sentences(tools: list[ToolText]) -> str:
    return " ".join(t[:1].upper() + t[1:] + "." for t in build_vocabulary(tools, parameters=False, enums=False).terms)


def can_list(tools: list[ToolText]) -> str:
    """A natural sentence: the assistant says what it can do."""
    terms = build_vocabulary(tools, parameters=False, enums=False).terms
    return "I can " + ", ".join(terms) + "."


def glossary(tools: list[ToolText]) -> str:
    return "Glossary: " + ", ".join(build_vocabulary(tools).terms) + "."


T0: dict[str, Any] = {"temperatures": (0.0,)}
CONFIGS: list[Config] = [
    Config("current"),
    Config("current whole-utterance", whole=True),
    Config("t0", stt=T0),
    Config("t0 beam1", stt={**T0, "beam_size": 1}),
    Config("t0 no-speech off", stt={**T0, "no_speech_threshold": None}),
    Config("t0 pad0.2", stt={**T0, "pad_s": 0.2}),
    Config("t0 patience2", stt={**T0, "patience": 2.0}),
    Config("t0 lenpen0.6", stt={**T0, "length_penalty": 0.6}),
    Config("t0 +names", stt=T0, vocab=names_only),
    Config("t0 +vocab", stt=T0, vocab=default_vocab),
    Config("t0 +bigvocab", stt=T0, vocab=big_vocab),
    Config("t0 +vocab +greeting", stt=T0, vocab=default_vocab, prompt=GREETING),
    Config("t0 +vocab +context", stt=T0, vocab=default_vocab, context=True),
    Config("t0 prompt=sentences", stt=T0, prompt_fn=sentences),
    Config("t0 prompt=names-sentences", stt=T0, prompt_fn=names_sentences),
    Config("t0 prompt=can-list", stt=T0, prompt_fn=can_list),
    Config("t0 prompt=glossary", stt=T0, prompt_fn=glossary),
    Config("t0 pad0.2 prompt=sentences", stt={**T0, "pad_s": 0.2}, prompt_fn=sentences),
    Config("t0 +greeting", stt=T0, prompt=GREETING),
    Config("t0 +greeting +sentences", stt=T0, prompt=GREETING, prompt_fn=sentences),
    Config("t0 +greeting +names-sentences", stt=T0, prompt=GREETING, prompt_fn=names_sentences),
    Config("t0 +sentences +greeting", stt=T0, prompt_fn=lambda tools: sentences(tools) + " " + GREETING),
    Config("t0 +vocab beam1", stt={**T0, "beam_size": 1}, vocab=default_vocab),
    Config("fallback +vocab", vocab=default_vocab),
    Config("base t0", model="whisper-base", stt=T0),
    Config("base t0 +vocab", model="whisper-base", stt=T0, vocab=default_vocab),
    Config("t0 +names +greeting", stt=T0, vocab=names_only, prompt=GREETING),
    Config("t0 +bigvocab +greeting", stt=T0, vocab=big_vocab, prompt=GREETING),
    Config("current +vocab +greeting", vocab=default_vocab, prompt=GREETING),
    Config("t0 +vocab +greeting lenpen0.6", stt={**T0, "length_penalty": 0.6}, vocab=default_vocab, prompt=GREETING),
    Config("t0 +vocab +greeting beam1", stt={**T0, "beam_size": 1}, vocab=default_vocab, prompt=GREETING),
    Config("t0 +vocab +greeting pad0.2", stt={**T0, "pad_s": 0.2}, vocab=default_vocab, prompt=GREETING),
    Config("base t0 +vocab +greeting", model="whisper-base", stt=T0, vocab=default_vocab, prompt=GREETING),
]


def decode(
    cfg: Config, stt: WhisperSTT, u: Utterance, heard: list[str], dump: dict[str, Any], down: set[str]
) -> dict[str, Any]:
    """One utterance under one configuration: what the agent hears, its errors and the decode time."""
    tools = tools_for(u.servers, dump, down)
    stt.set_vocabulary(cfg.vocab(tools) if cfg.vocab else None)
    prompt_parts = [cfg.prompt] if cfg.prompt else []
    if cfg.prompt_fn is not None:
        prompt_parts.append(cfg.prompt_fn(tools))
    if cfg.context and u.previous is not None and heard[u.previous]:
        prompt_parts.append(heard[u.previous])
    stt.update_options(initial_prompt=" ".join(prompt_parts))
    pieces = [u.whole] if cfg.whole and u.whole is not None else u.segments
    texts: list[str] = []
    t0 = time.perf_counter()
    for audio in pieces:
        text, _ = stt.transcribe(audio)
        if text:
            texts.append(text)
    seconds = time.perf_counter() - t0
    hyp = " ".join(texts)
    heard.append(hyp)
    errors, n = word_errors(u.text, hyp)
    return {
        "scenario": u.scenario,
        "category": u.category,
        "snr_db": u.snr_db,
        "said": u.text,
        "heard": hyp,
        "errors": errors,
        "words": n,
        "segments": len(pieces),
        "decode_s": round(seconds, 4),
    }


def run_configs(
    configs: list[Config], utterances: list[Utterance], dump: dict[str, Any], down: set[str]
) -> list[dict[str, Any]]:
    """Every configuration on every utterance, interleaved (utterance by utterance) so that the machine's load
    weighs on all configurations alike."""
    stts = [WhisperSTT(model=cfg.model, cpu_threads=2, **cfg.stt) for cfg in configs]
    for stt in stts:
        stt.warm_up()
    heard: list[list[str]] = [[] for _ in configs]
    rows: list[list[dict[str, Any]]] = [[] for _ in configs]
    for u in utterances:
        for i, cfg in enumerate(configs):
            rows[i].append(decode(cfg, stts[i], u, heard[i], dump, down))
    return [{"config": c.name, "model": c.model, "rows": r, **summarize(r)} for c, r in zip(configs, rows, strict=True)]


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def wer(sel: list[dict[str, Any]]) -> float | None:
        n = sum(r["words"] for r in sel)
        return round(sum(r["errors"] for r in sel) / n, 4) if n else None

    times = sorted(r["decode_s"] for r in rows)
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))] if times else 0.0
    return {
        "wer": wer(rows),
        "wer_clean": wer([r for r in rows if r["snr_db"] is None]),
        "wer_noise": wer([r for r in rows if r["snr_db"] is not None]),
        "wer_chit_chat": wer([r for r in rows if r["category"] == "chit-chat"]),
        "exact": sum(r["errors"] == 0 for r in rows),
        "utterances": len(rows),
        "decode_median_s": round(statistics.median(times), 3) if times else 0.0,
        "decode_p95_s": round(p95, 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--suite", type=Path, default=ROOT / "evals" / "public.yaml")
    ap.add_argument("--tools-json", type=Path, default=TOOLS_JSON)
    ap.add_argument("--voice", default="espeak:en-us", help="user voice: espeak:en-us, piper:joe, piper:/x.onnx")
    ap.add_argument("--configs", default="", help="comma-separated config names (default: all)")
    ap.add_argument("--limit", type=int, default=0, help="first N utterances only")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/voxmcp-stt-bench"))
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--snr", type=float, default=None, help="white noise at this SNR (dB) on every utterance")
    args = ap.parse_args()
    try:
        voice = parse_voice(args.voice)
    except UserVoiceError as e:
        raise SystemExit(str(e)) from None
    utterances, down = collect(args.suite)
    if args.limit:
        utterances = utterances[: args.limit]
    if args.snr is not None:
        for u in utterances:
            u.snr_db = args.snr
    dump = json.loads(args.tools_json.read_text())
    wanted = {c.strip() for c in args.configs.split(",") if c.strip()}
    configs = [c for c in CONFIGS if not wanted or c.name in wanted]
    if wanted - {c.name for c in configs}:
        raise SystemExit(f"unknown configs: {sorted(wanted - {c.name for c in configs})}")
    prepare(utterances, args.cache, voice)
    split = [u.text for u in utterances if len(u.segments) != 1]
    print(f"{len(utterances)} utterances by {voice}; VAD cut {len(split)} into != 1 segment: {split}")
    results = run_configs(configs, utterances, dump, down)
    print("| config | WER | clean | noise | chit-chat | exact | decode median s | p95 s |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['config']} | {r['wer']} | {r['wer_clean']} | {r['wer_noise']} | {r['wer_chit_chat']} | "
            f"{r['exact']}/{r['utterances']} | {r['decode_median_s']} | {r['decode_p95_s']} |"
        )
    if args.json:
        meta = {
            "suite": str(args.suite),
            "voice": str(voice),
            "load_avg": os.getloadavg(),
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        args.json.write_text(json.dumps({"meta": meta, "results": results}, indent=1))


if __name__ == "__main__":
    main()
