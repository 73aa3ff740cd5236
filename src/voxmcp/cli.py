"""The `voxmcp` command.

LiveKit's verbs run the agent as a LiveKit worker (`console`, `dev`, `start`); `talk` runs the whole pipeline on a
WAV file; `models`, `mcp` and `demo-server` manage the pieces.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from voxmcp.config import ConfigError, Settings, load_settings

if TYPE_CHECKING:
    from voxmcp.mcp.config import MCPServerConfig

app = typer.Typer(
    help="voxmcp: a voice agent that is an MCP client, on LiveKit Agents, running offline on local models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True, soft_wrap=True)  # an error is one line whatever the terminal width (and greppable)
ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="voxmcp.toml (default: ./voxmcp.toml)")]
LogLevelOpt = Annotated[
    str | None,
    typer.Option(
        "--log-level",
        metavar="LEVEL",
        help="log records printed here and written to --log-file: debug, info, warning, error "
        "(default: VOXMCP_LOG_LEVEL or LIVEKIT_LOG_LEVEL, else warning for console and info for dev/start)",
    ),
]
LogFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--log-file",
        metavar="PATH",
        dir_okay=False,
        help="also write the log there, redacted, with times and fields (at --log-level; debug when not given)",
    ),
]


def _settings(config: Path | None) -> Settings:
    try:
        return load_settings(config)
    except ConfigError as e:
        console.print(f"[red]config error:[/red] {escape(str(e))}", soft_wrap=True)
        raise typer.Exit(2) from None


def _prepare_env(config: Path | None) -> None:
    """Everything offline: no hub downloads, no telemetry; the worker process reads the config path from env."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if config is not None:
        os.environ["VOXMCP_CONFIG"] = str(config.resolve())


# LiveKit's `--log-level` choices; it sets the root logger's level to the one it is given
_LIVEKIT_LEVELS: tuple[tuple[int, str], ...] = (
    (logging.DEBUG - 1, "trace"),
    (logging.DEBUG, "debug"),
    (logging.INFO, "info"),
    (logging.WARNING, "warn"),
    (logging.ERROR, "error"),
)


def _livekit_level(level: int) -> str:
    return next((name for bound, name in _LIVEKIT_LEVELS if level <= bound), "critical")


def _setup_worker_logging(level: str | None, log_file: Path | None, *, default: int, conversation: bool) -> str:
    """Our `--log-level`/`--log-file`, mapped onto LiveKit's `--log-level`: returns the level to hand to LiveKit.

    LiveKit's CLI adds its own terminal handler and sets the root's level; voxmcp's handler gives that handler the
    terminal level and the redaction filter, and the file handler (ours) takes every record at the file's level.
    `conversation` (the console at warning or above): long `extra` fields are cut in the terminal, not the file.
    """
    from voxmcp.logs import LEVEL_ENV, LogFileError, LogLevelError, parse_level, setup_logging

    # --log-level, else VOXMCP_LOG_LEVEL, else LiveKit's own LIVEKIT_LOG_LEVEL (which its --log-level reads)
    candidates = [("--log-level", level), *((name, os.environ.get(name)) for name in (LEVEL_ENV, "LIVEKIT_LOG_LEVEL"))]
    source, value = next(((name, v) for name, v in candidates if v and v.strip()), (LEVEL_ENV, None))
    try:
        terminal = parse_level(value, default, source=source)
        chosen = value is not None
        file_level = terminal if chosen else logging.DEBUG
        limit = 160 if conversation and terminal >= logging.WARNING else None
        root = setup_logging(terminal, log_file=log_file, file_level=file_level, extra_limit=limit)
    except (LogLevelError, LogFileError) as e:
        console.print(f"[red]error:[/red] {escape(str(e))}", soft_wrap=True)
        raise typer.Exit(2) from None
    return _livekit_level(root)


def _run_livekit(verb: str, extra: list[str], settings: Settings, livekit_level: str = "info") -> None:
    from livekit.agents import cli as lk_cli

    from voxmcp.app import configure_server, server

    configure_server(server, settings)
    sys.argv = ["voxmcp", verb, *extra, "--log-level", livekit_level]
    lk_cli.run_app(server)


def _has_audio_device() -> bool:
    try:
        import sounddevice as sd

        devices = sd.query_devices()
    except Exception:  # PortAudio missing or no devices: both mean "no audio"
        return False
    return any(d.get("max_input_channels", 0) > 0 for d in devices) and any(
        d.get("max_output_channels", 0) > 0 for d in devices
    )


def _ensure_demo(settings: Settings) -> object | None:
    """Start the bundled demo MCP server when the config points at it and nothing answers there."""
    from voxmcp.config import DEMO_SERVER_URL
    from voxmcp.demo.runner import ensure_demo_server

    for cfg in settings.mcp_servers().values():
        if cfg.url == DEMO_SERVER_URL:
            proc = ensure_demo_server(DEMO_SERVER_URL)
            if proc is not None:
                console.print(f"[dim]started the demo MCP server at {DEMO_SERVER_URL}[/dim]")
            return proc
    return None


@app.command("console", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def console_(
    ctx: typer.Context,
    config: ConfigOpt = None,
    text: Annotated[bool, typer.Option("--text", help="type instead of speaking")] = False,
    log_level: LogLevelOpt = None,
    log_file: LogFileOpt = None,
) -> None:
    """Talk to the agent in this terminal (LiveKit's console); text mode when there is no audio device.

    The terminal shows the conversation and warnings; `--log-level debug` or `--log-file PATH` for the rest.
    """
    _prepare_env(config)
    livekit_level = _setup_worker_logging(log_level, log_file, default=logging.WARNING, conversation=True)
    settings = _settings(config)
    demo = _ensure_demo(settings)
    extra = list(ctx.args)
    if not text and not _has_audio_device():
        console.print("[yellow]No audio device found: starting the console in text mode (type to the agent).[/yellow]")
        text = True
    if text:
        extra.append("--text")
    try:
        _run_livekit("console", extra, settings, livekit_level)
    finally:
        if demo is not None:
            demo.stop()  # type: ignore[attr-defined]


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def dev(
    ctx: typer.Context, config: ConfigOpt = None, log_level: LogLevelOpt = None, log_file: LogFileOpt = None
) -> None:
    """Run a LiveKit worker in development mode (LIVEKIT_URL/API_KEY/API_SECRET from env or .env)."""
    _prepare_env(config)
    livekit_level = _setup_worker_logging(log_level, log_file, default=logging.INFO, conversation=False)
    _run_livekit("dev", list(ctx.args), _settings(config), livekit_level)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def start(
    ctx: typer.Context, config: ConfigOpt = None, log_level: LogLevelOpt = None, log_file: LogFileOpt = None
) -> None:
    """Run a LiveKit worker in production mode (JSON log lines on stdout)."""
    _prepare_env(config)
    livekit_level = _setup_worker_logging(log_level, log_file, default=logging.INFO, conversation=False)
    _run_livekit("start", list(ctx.args), _settings(config), livekit_level)


@app.command()
def talk(
    input: Annotated[Path, typer.Option("--input", "-i", help="the user's question, a WAV file")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="where to write the agent's answer (WAV)")
    ] = None,
    config: ConfigOpt = None,
    greet: Annotated[bool, typer.Option(help="let the agent greet first")] = False,
    timeout: Annotated[
        float, typer.Option(help="seconds to wait for the answer after the recording (the run's bound)", min=1.0)
    ] = 90.0,
    json_out: Annotated[Path | None, typer.Option("--json", help="also write the result as JSON")] = None,
) -> None:
    """Run the full voice pipeline on a recording: VAD -> STT -> LLM with MCP tools -> TTS."""
    _prepare_env(config)
    from voxmcp.audio.speech import MAX_RECORDING_S, speech_bounds
    from voxmcp.audio.wav import AudioFileError, read_wav

    try:  # a damaged, huge or silent file is refused here, before any model loads
        audio = read_wav(input, sample_rate=16000, max_seconds=MAX_RECORDING_S)
        speech_bounds(audio)
    except (AudioFileError, OSError) as e:
        console.print(f"[red]cannot use {escape(str(input))}:[/red] {escape(str(e))}")
        raise typer.Exit(2) from None
    settings = _settings(config)
    from voxmcp.app import load_models
    from voxmcp.models.weights import ModelError

    t0 = time.perf_counter()
    try:
        models = load_models(settings)
    except (ModelError, ValueError) as e:
        console.print(f"[red]cannot load the models:[/red] {escape(str(e))}")
        raise typer.Exit(2) from None
    cold = time.perf_counter() - t0
    demo = _ensure_demo(settings)
    try:
        from voxmcp.talk import format_result, run_talk

        result = asyncio.run(run_talk(settings, models, audio, output_wav=output, greet=greet, timeout_s=timeout))
    finally:
        if demo is not None:
            demo.stop()  # type: ignore[attr-defined]
    result.timings["models_load_s"] = round(cold, 3)
    out = Console(soft_wrap=True)  # a sentence is one line, whatever the terminal width
    for line in format_result(result):
        out.print(line, markup=False, highlight=False)
    out.print(f"time:  models loaded in {cold:.2f} s", highlight=False)
    if output is not None:
        out.print(f"wrote {output}", highlight=False)
    if json_out is not None:
        import dataclasses
        import json

        data = dataclasses.asdict(result)
        data["output_wav"] = str(result.output_wav) if result.output_wav else None
        json_out.write_text(json.dumps(data, indent=2))
    if result.errors and not result.agent_transcript:
        raise typer.Exit(1)


def _mcp_servers_from_settings(config: Path | None) -> dict[str, MCPServerConfig]:
    """`voxmcp mcp --config FILE`: the server table as the whole Settings read it (the MCP layer can't import it)."""
    return load_settings(config).mcp_servers()


def _load_mcp_wording() -> None:
    """`voxmcp mcp ...` prints MCP failures as the sentences the agent says (voxmcp.voice.wording)."""
    import voxmcp.voice.wording  # noqa: F401


def _mount() -> None:
    from voxmcp.bench.cli import app as bench_app
    from voxmcp.demo.cli import app as demo_app
    from voxmcp.evals.cli import app as eval_app
    from voxmcp.mcp.cli import app as mcp_app
    from voxmcp.mcp.cli import use_settings_loader
    from voxmcp.models.cli import app as models_app
    from voxmcp.web.cli import app as web_app

    app.add_typer(models_app, name="models")
    use_settings_loader(_mcp_servers_from_settings)
    app.add_typer(mcp_app, name="mcp", callback=_load_mcp_wording)
    app.add_typer(demo_app, name="demo-server")
    app.add_typer(eval_app, name="eval")
    app.add_typer(bench_app, name="bench")
    app.add_typer(web_app, name="web")


_mount()


def main() -> None:
    """`./.env` first (it may set VOXMCP_LOG_LEVEL and the secrets `${VAR}` names), then redacted logging."""
    from voxmcp.config import dotenv_files, load_dotenv_files
    from voxmcp.logs import LogLevelError, setup_logging

    try:
        load_dotenv_files(dotenv_files(None), os.environ)
        setup_logging()
    except (ConfigError, LogLevelError) as e:
        console.print(f"[red]config error:[/red] {escape(str(e))}", soft_wrap=True)
        raise SystemExit(2) from None
    app()


if __name__ == "__main__":
    main()
