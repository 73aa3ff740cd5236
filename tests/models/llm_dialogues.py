"""Drive the local LLM through text dialogues against the eval suite's real MCP servers, turn by turn.

Why: a spoken eval scenario costs 20-40 s and mixes speech recognition with the LLM's decisions; this prints, per
turn, the decision probability, what was called (or why a call was rejected) and what was said, in ~1-2 s a turn.

Run: .venv/bin/python tests/models/llm_dialogues.py [--only GLOB] [--say "turn one" --say "turn two"] [--servers demo]
Scenarios come from evals/public.yaml (their `say` text); --say runs one ad-hoc dialogue instead.
"""

from __future__ import annotations

import argparse
import asyncio
import fnmatch
import json
import logging
import tempfile
import time
from pathlib import Path

from livekit.agents import llm
from livekit.agents.llm import ChatContext, ToolError

from voxmcp.app import unreachable_server_tool
from voxmcp.config import DEFAULT_INSTRUCTIONS
from voxmcp.evals.schema import load_suite
from voxmcp.evals.servers import ServerPool
from voxmcp.mcp.toolset import MCPHub
from voxmcp.models.llm import LocalLLM
from voxmcp.models.providers import build_llm

MAX_TOOL_STEPS = 3


async def run_turn(model: LocalLLM, hub: MCPHub, ctx: ChatContext, tools: list[llm.Tool], text: str) -> list[str]:
    """One user turn: LLM steps until it answers in speech; returns the tool calls made, as `name(args)`."""
    ctx.add_message(role="user", content=text)
    print(f"  USER: {text}")
    made: list[str] = []
    for step in range(MAX_TOOL_STEPS + 1):
        said, calls = "", []
        t0 = time.perf_counter()
        async with model.chat(chat_ctx=ctx, tools=tools if step < MAX_TOOL_STEPS else []) as stream:
            async for chunk in stream:
                if chunk.delta and chunk.delta.content:
                    said += chunk.delta.content
                if chunk.delta and chunk.delta.tool_calls:
                    calls += chunk.delta.tool_calls
        stats = model.last_stats
        p = stats.tool_probability if stats else None
        print(
            f"    [{stats.mode if stats else '?'} p_tool={p if p is None else round(p, 3)} "
            f"retries={stats.retries if stats else 0} {time.perf_counter() - t0:.2f}s] said={said!r}"
        )
        if said:
            ctx.add_message(role="assistant", content=said)
        if not calls:
            return made
        for c in calls:
            fc = llm.FunctionCall(call_id=c.call_id, name=c.name, arguments=c.arguments)
            ctx.insert(fc)
            try:
                tool = next((t for t in tools if isinstance(t, llm.RawFunctionTool) and t.info.name == c.name), None)
                raw = json.loads(c.arguments or "{}")
                output, is_error = (await tool(raw) if tool is not None else await hub.call(c.name, raw)), False
            except ToolError as e:
                output, is_error = str(e), True
            print(f"    CALL {c.name}({c.arguments}) -> {'ERROR ' if is_error else ''}{output[:120]!r}")
            made.append(f"{c.name}({c.arguments})")
            ctx.insert(llm.FunctionCallOutput(call_id=c.call_id, name=c.name, output=output, is_error=is_error))
    return made


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="evals/public.yaml")
    parser.add_argument("--only", action="append", default=[], help="scenario name or category glob")
    parser.add_argument("--say", action="append", default=[], help="an ad-hoc dialogue's turns")
    parser.add_argument("--servers", default="demo", help="servers for --say, comma-separated")
    parser.add_argument("--model", default="qwen2.5-coder-0.5b")
    parser.add_argument("--heard", type=Path, help="an eval report: replay what the agent heard instead of the script")
    parser.add_argument("-v", action="store_true", help="log the LLM module at INFO")
    args = parser.parse_args()
    if args.v:
        logging.basicConfig(level=logging.WARNING, format="    LOG %(message)s %(extra)s")
        standard = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
        old_factory = logging.getLogRecordFactory()

        def factory(*a: object, **kw: object) -> logging.LogRecord:
            record = old_factory(*a, **kw)
            record.extra = ""
            return record

        logging.setLogRecordFactory(factory)

        class ExtraFilter(logging.Filter):
            def filter(self, record: logging.LogRecord) -> bool:
                record.extra = {k: v for k, v in record.__dict__.items() if k not in standard and k != "extra"}
                return True

        for h in logging.getLogger().handlers:
            h.addFilter(ExtraFilter())
        logging.getLogger("voxmcp.models.llm").setLevel(logging.INFO)
    suite = load_suite(Path(args.suite))
    dialogues: list[tuple[str, list[str], list[str]]] = []
    if args.say:
        dialogues.append(("ad-hoc", args.servers.split(","), args.say))
    else:
        for sc in suite.scenarios:
            if args.only and not any(fnmatch.fnmatch(sc.name, g) or fnmatch.fnmatch(sc.category, g) for g in args.only):
                continue
            turns: list[str] = []
            for t in sc.turns:
                turns.append(t.say)
                if t.barge_in is not None:
                    turns.append(t.barge_in.say)
            dialogues.append((sc.name, list(sc.servers), turns))
    if args.heard:
        report = {r["name"]: r for r in json.loads(args.heard.read_text())["results"]}
        dialogues = [
            (name, servers, [t["heard_by_agent"] for t in report[name]["turns"] if t.get("heard_by_agent")] or turns)
            for name, servers, turns in dialogues
            if name in report
        ]
    model = build_llm("local", args.model, instructions=DEFAULT_INSTRUCTIONS, tool_preamble="One moment.")
    assert isinstance(model, LocalLLM)
    with tempfile.TemporaryDirectory() as tmp:
        pool = ServerPool(dict(suite.servers), Path(tmp))
        try:
            for name, servers, turns in dialogues:
                print(f"== {name} {servers}")
                hub = MCPHub(await pool.configs(servers), connect_timeout_s=3.0)
                statuses = await hub.start()
                try:
                    # a server that is down gets the app's stand-in tool, as in a session
                    down = [unreachable_server_tool(s, hub) for s in statuses if s.state == "failed"]
                    tools: list[llm.Tool] = [*hub.function_tools(), *down]
                    await model.prefill(DEFAULT_INSTRUCTIONS, tools)
                    ctx = ChatContext.empty()
                    ctx.add_message(role="system", content=DEFAULT_INSTRUCTIONS)
                    for turn in turns:
                        await run_turn(model, hub, ctx, tools, turn)
                finally:
                    await hub.aclose()
        finally:
            await pool.aclose()


if __name__ == "__main__":
    asyncio.run(main())
