"""LiveKit's "MCP Agent" recipe (docs.livekit.io/recipes/http_mcp_client), structure intact, running offline.

What changed from the recipe: the cloud STT/LLM/TTS strings are replaced by voxmcp's local providers (Whisper,
Qwen2.5 on llama.cpp, hibari), and LiveKit's thin `MCPServerHTTP` by voxmcp's MCP hub pointed at the bundled demo
server. Everything else — AgentServer, prewarm into `proc.userdata`, the rtc_session entrypoint, an Agent that
greets in `on_enter`, `cli.run_app` — is the recipe's.

    python examples/http_mcp_client.py console      # or dev / start
"""

import logging
import os

from dotenv import load_dotenv
from livekit.agents import Agent, AgentServer, AgentSession, JobContext, JobProcess, cli
from livekit.plugins import silero  # noqa: F401  (plugins register on the main thread, as in the recipe)

from voxmcp.config import DEMO_SERVER_URL
from voxmcp.demo.runner import ensure_demo_server
from voxmcp.mcp.config import MCPServerConfig
from voxmcp.mcp.toolset import MCPHub
from voxmcp.models import providers
from voxmcp.voice import wording  # noqa: F401  (MCP failures reach the LLM as the sentences voxmcp says)

load_dotenv()
os.environ.setdefault("HF_HUB_OFFLINE", "1")

logger = logging.getLogger("mcp-agent")
logger.setLevel(logging.INFO)

INSTRUCTIONS = (
    "You can retrieve data via the MCP server. The interface is voice-based: "
    "accept spoken user queries and respond with synthesized speech. Answer in one or two short sentences."
)


class MyAgent(Agent):
    def __init__(self, tools: list) -> None:
        super().__init__(instructions=INSTRUCTIONS, tools=tools)

    async def on_enter(self) -> None:
        # a fixed greeting: on a 0.5B model a generated one tends to call tools (shared/BASELINE.md)
        self.session.say("Hi! Ask me about the weather, the time, units or your notes.")


server = AgentServer()


def prewarm(proc: JobProcess) -> None:
    proc.userdata["vad"] = providers.build_vad("silero")
    proc.userdata["stt"] = providers.build_stt("local/whisper-tiny.en")
    proc.userdata["llm"] = providers.build_llm("local/qwen2.5-coder-0.5b", instructions=INSTRUCTIONS)
    proc.userdata["tts"] = providers.build_tts("local/hibari")


server.setup_fnc = prewarm


@server.rtc_session()
async def entrypoint(ctx: JobContext) -> None:
    ctx.log_context_fields = {"room": ctx.room.name}

    hub = MCPHub({"demo": MCPServerConfig(url=DEMO_SERVER_URL)})
    await hub.start()
    ctx.add_shutdown_callback(hub.aclose)
    llm = ctx.proc.userdata["llm"]
    await llm.prefill(INSTRUCTIONS, hub.function_tools())

    session = AgentSession(
        vad=ctx.proc.userdata["vad"],
        stt=ctx.proc.userdata["stt"],
        llm=llm,
        tts=ctx.proc.userdata["tts"],
    )

    await session.start(agent=MyAgent(hub.function_tools()), room=ctx.room)
    await ctx.connect()


if __name__ == "__main__":
    demo = ensure_demo_server(DEMO_SERVER_URL)
    try:
        cli.run_app(server)
    finally:
        if demo is not None:
            demo.stop()
