"""A stock LiveKit agent (LiveKit's voice AI quickstart with an MCP toolset), running offline through voxmcp.

Only the imports, the providers, `tools=[...]` and the Agent's first base differ from the stock agent; the
AgentServer, the prewarm, the rtc_session entrypoint, the Agent and `cli.run_app` are LiveKit's, unchanged:

    -from livekit.agents import Agent, AgentServer, AgentSession, JobContext, JobProcess, cli, mcp
    -from livekit.plugins import openai, silero
    +from livekit.agents import Agent, AgentServer, AgentSession, JobContext, JobProcess, cli
    +
    +from voxmcp import MCPToolset, TurnPolicyMixin
    +from voxmcp.plugins import llm, stt, tts, vad
    ...
    -class Assistant(Agent):
    +class Assistant(TurnPolicyMixin, Agent):
    ...
    -    proc.userdata["vad"] = silero.VAD.load()
    +    proc.userdata["vad"] = vad.SileroVAD.load()
    ...
    -        stt=openai.STT(),
    -        llm=openai.LLM(model="gpt-4.1-mini"),
    -        tts=openai.TTS(),
    -        tools=[mcp.MCPToolset(id="demo", mcp_server=mcp.MCPServerHTTP(url="http://127.0.0.1:8931/mcp"))],
    +        stt=stt.WhisperSTT(),
    +        llm=llm.LlamaCppLLM(),
    +        tts=tts.HibariTTS(),
    +        tools=[MCPToolset.from_config()],

`MCPToolset.from_config()` reads ./voxmcp.toml (its `[mcp.servers.*]` and `mcp_json`); with no servers there it
uses the bundled demo server, so start that first:

    voxmcp demo-server &                              # http://127.0.0.1:8931/mcp
    python examples/livekit_drop_in.py console        # or: console --text, dev, start
"""

from dotenv import load_dotenv
from livekit.agents import Agent, AgentServer, AgentSession, JobContext, JobProcess, cli

# at module level: the job's event loop should not be the one importing them
from voxmcp import MCPToolset, TurnPolicyMixin
from voxmcp.plugins import llm, stt, tts, vad

load_dotenv()


class Assistant(TurnPolicyMixin, Agent):  # validate, repair, ask, no unbacked claims: with any LLM
    def __init__(self) -> None:
        super().__init__(
            instructions="You are a helpful voice AI assistant. Use your tools when they can answer. "
            "Answer in one or two short sentences, without formatting: you are speaking."
        )


server = AgentServer()


def prewarm(proc: JobProcess) -> None:
    proc.userdata["vad"] = vad.SileroVAD.load()


server.setup_fnc = prewarm


@server.rtc_session()
async def entrypoint(ctx: JobContext) -> None:
    session = AgentSession(
        vad=ctx.proc.userdata["vad"],
        stt=stt.WhisperSTT(),
        llm=llm.LlamaCppLLM(),
        tts=tts.HibariTTS(),
        tools=[MCPToolset.from_config()],
    )
    await session.start(room=ctx.room, agent=Assistant())
    await session.generate_reply(instructions="Greet the user and offer your assistance.")


if __name__ == "__main__":
    cli.run_app(server)
