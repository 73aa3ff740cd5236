"""A local LLM (a GGUF on llama.cpp) behind LiveKit's `llm.LLM` interface, with tool calling a 0.5B model can do.

Why it is shaped this way (see shared/BASELINE.md for the failures of the plain setup):
- The prompt is rendered with the model's own chat template (from the GGUF), tools included, and the system prompt +
  tool schemas form a stable prefix: llama.cpp reuses the longest common token prefix between calls, and `prefill()`
  evaluates that prefix once when a session starts, so later turns only pay for the new tokens.
- After a tool result the model must answer, not call again: that turn is generated under a grammar that admits plain
  speech only, after a short instruction to answer from the result. The greeting is generated the same way.
- A decision step picks call or speech from the probability of the call's first token (a 0.5B stops *starting*
  calls after a few turns of chat, but keeps giving them weight), with the request's words as a second signal
  (`grounding`): a middling probability needs a word shared with a tool or a follow-up to a call, and a clear request
  after chat is checked again on its own. Speech streams from the first token under a grammar that admits no JSON; a
  call is generated under a grammar built from the tools' JSON schemas, parsed, and checked against the user's words
  (a wrong tool with invented values is chosen again among the tools closest to the request). Each grounding rule
  is named in `grounding.RULES`, logged when it changes a turn, and kept only while it earns its place on the
  held-out and cross-server suites.
- History is rendered without the spoken tool preamble, so each earlier request is followed by its call.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
import time
from collections.abc import AsyncIterator, Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from livekit.agents import APIConnectionError, llm
from livekit.agents.llm import ChatContext, ChatMessage, FunctionCall, FunctionCallOutput
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, NOT_GIVEN, APIConnectOptions, NotGivenOr
from livekit.agents.utils import shortuuid

from voxmcp.models import call_decoding, catalogue, grounding, toolcalls
from voxmcp.models.catalogue import compact_schema, prompt_tools  # noqa: F401  (imported from here by tests)
from voxmcp.models.kv_state import KVStateCache
from voxmcp.policy.wording import spoken_failure

if TYPE_CHECKING:
    from llama_cpp import Llama
    from llama_cpp.llama_grammar import LlamaGrammar

logger = logging.getLogger(__name__)

Mode = Literal["tools", "answer"]

# the question first: after "...answer my question "And in Rome?"" a 0.5B repeats the question instead of answering
ANSWER_NUDGE = (
    'My question: "{question}"\nTool result: {result}\nAnswer my question from this result in one short spoken '
    "sentence."
)
SURE_TOOL_PROBABILITY = 0.6  # above this the model's wish to call is trusted without a word shared with a tool
# a request after a tool turn that shares no word with a tool ("And in Rome?") needs more than the base threshold:
# after a tool turn, chat ("Thank you, that's all") gets a few percent
FOLLOW_UP_PROBABILITY = 0.1
MAX_CALL_ATTEMPTS = 3
UNCLEAR_HEARD = "Sorry, I didn't catch all of that. Could you say it again?"
UNCLEAR_TYPED = "Sorry, I'm not sure what you want me to do there. Could you put it another way?"
"""For a typed request: the words arrived as written, so "didn't catch that" would be untrue."""
FALLBACK_NUDGE = (
    "Answer me in one short spoken sentence without mentioning tools or functions; if my request is unclear, ask me "
    "to {again}."
)
# Plain speech: no braces, brackets, tags or markdown markers; must start with a word character or quote.
TOO_LONG = "Sorry, that was more than I can take in at once. Could you say it more briefly?"
DECODE_FAILED = "Sorry, something went wrong while I was thinking. Could you say that again?"
CALL_MARGIN_TOKENS = 32
"""Tokens a call's fixed JSON (`{"name": "...", "arguments": `) adds to a turn's prompt."""
SPEECH_GRAMMAR = r"""
root ::= first rest
first ::= [A-Za-z0-9"'(]
rest ::= [^{}<>\[\]`*#|\\]*
"""


class ContextFull(ValueError):
    """A prompt (with room for its answer) doesn't fit the model's context; raised before llama.cpp sees it."""


class DecodeFailed(RuntimeError):
    """llama.cpp failed to evaluate a prompt (`llama_decode returned 1`); the turn fails with a sentence."""


@dataclass
class GenerationStats:
    """What one generation cost: filled in by the worker thread, read by benchmarks and talk."""

    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0
    ttft_s: float | None = None
    total_s: float = 0.0
    mode: str = ""
    retries: int = 0
    tool_probability: float | None = None
    invented_values: int = 0
    """Calls rejected for a value the user never said (or cut off while writing one)."""


@dataclass
class _Request:
    prompt: str
    max_tokens: int
    grammar: LlamaGrammar | None
    stop_event: threading.Event = field(default_factory=threading.Event)
    until: Callable[[str], bool] | None = None
    """Stop as soon as the text so far satisfies this (checked in the worker: no decoding step is wasted on the
    end-of-text token a finished grammar would still ask for)."""


class LlamaRuntime:
    """One loaded GGUF shared by every session in the process; generation is serialized by a lock."""

    _instances: ClassVar[dict[tuple[str, int, int], LlamaRuntime]] = {}
    _instances_lock = threading.Lock()

    def __init__(self, model_path: Path, *, n_ctx: int, threads: int, seed: int = 7) -> None:
        from llama_cpp import Llama

        self.model_path = model_path
        self.kv_cache: KVStateCache | None = KVStateCache()
        self.llama: Llama = Llama(
            str(model_path), n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads, seed=seed, verbose=False
        )
        self.lock = threading.Lock()
        template = self.llama.metadata.get("tokenizer.chat_template")
        if not template:
            raise ValueError(f"{model_path} has no chat template in its GGUF metadata")
        import jinja2

        env = jinja2.Environment(autoescape=False)
        env.filters["tojson"] = lambda v: json.dumps(v, ensure_ascii=False)
        self.template = env.from_string(template)
        self._grammar_cache: dict[str, LlamaGrammar] = {}
        starts = ("{", '{"', "{\n", "<tool_call>", "```", "```json", "[", '[{"')
        self._tool_start_ids = sorted({self.llama.tokenize(t.encode(), add_bos=False, special=True)[0] for t in starts})

    @classmethod
    def shared(cls, model_path: Path, *, n_ctx: int, threads: int, seed: int = 7) -> LlamaRuntime:
        key = (str(model_path), n_ctx, threads)
        with cls._instances_lock:
            inst = cls._instances.get(key)
            if inst is None:
                inst = cls(model_path, n_ctx=n_ctx, threads=threads, seed=seed)
                cls._instances[key] = inst
            return inst

    def render(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> str:
        return str(self.template.render(messages=messages, tools=tools or None, add_generation_prompt=True))

    def grammar(self, gbnf: str) -> LlamaGrammar:
        from llama_cpp.llama_grammar import LlamaGrammar

        g = self._grammar_cache.get(gbnf)
        if g is None:
            g = LlamaGrammar.from_string(gbnf, verbose=False)
            self._grammar_cache[gbnf] = g
        return g

    def cached_prefix_len(self, tokens: Sequence[int]) -> int:
        n = 0
        for a, b in zip(self.llama._input_ids, tokens, strict=False):
            if a != b:
                break
            n += 1
        return n

    @property
    def n_ctx(self) -> int:
        return int(self.llama.n_ctx())

    def count_tokens(self, text: str) -> int:
        return len(self.llama.tokenize(text.encode(), add_bos=False, special=True))

    def _fits(self, tokens: Sequence[int], room: int) -> None:
        """Raise ContextFull unless `tokens` and `room` more fit the context (llama.cpp would fail mid-decode)."""
        if len(tokens) + room > self.n_ctx:
            raise ContextFull(f"a prompt of {len(tokens)} tokens (+{room}) does not fit the {self.n_ctx}-token context")

    def generate(self, req: _Request, stats: GenerationStats, temperature: float) -> Iterator[str]:
        """Blocking token stream (run in a worker thread). Stops early when `req.stop_event` is set.

        The answer is cut short rather than overflow the context; a prompt with no room left raises ContextFull."""
        with self.lock:
            t0 = time.perf_counter()
            tokens = self.llama.tokenize(req.prompt.encode(), add_bos=False, special=True)
            stats.prompt_tokens = len(tokens)
            stats.cached_tokens = self.cached_prefix_len(tokens)
            self._fits(tokens, min(req.max_tokens, 16))
            max_tokens = min(req.max_tokens, self.n_ctx - len(tokens))
            produced = ""
            stream: Any = None
            try:
                stream = self.llama.create_completion(
                    tokens,
                    max_tokens=max_tokens,
                    temperature=temperature,
                    stop=["<|im_end|>", "<|endoftext|>", "<|im_start|>"],
                    grammar=req.grammar,
                    stream=True,
                )
                for chunk in stream:
                    if stats.ttft_s is None:
                        stats.ttft_s = time.perf_counter() - t0
                    text = chunk["choices"][0]["text"]
                    stats.completion_tokens += 1
                    yield text
                    produced += text
                    if req.stop_event.is_set() or (req.until is not None and req.until(produced)):
                        break
            except RuntimeError as e:  # llama_decode returned n: never a traceback for the user
                raise DecodeFailed(str(e)) from e
            finally:
                if stream is not None:
                    stream.close()
                stats.total_s = time.perf_counter() - t0

    def tool_start_probability(self, prompt: str) -> float:
        """Probability that the model's next token starts a tool call (`{`, `<tool_call>`, a fence), read from the
        logits after evaluating `prompt` (which leaves it in the KV cache for the generation that follows)."""
        import numpy as np

        with self.lock:
            tokens = self.llama.tokenize(prompt.encode(), add_bos=False, special=True)
            self._fits(tokens, 1)
            reuse = min(self.cached_prefix_len(tokens), len(tokens) - 1)
            self.llama.n_tokens = reuse
            self._eval(tokens[reuse:])
            logits = np.ctypeslib.as_array(self.llama._ctx.get_logits(), shape=(self.llama.n_vocab(),))  # type: ignore[no-untyped-call]
            z = logits.astype(np.float64)
            z = np.exp(z - z.max())
            return float(z[self._tool_start_ids].sum() / z.sum())

    def prefill(self, prompt: str) -> int:
        """Evaluate `prompt` so its tokens sit in the KV cache; returns how many tokens had to be evaluated.

        The state of a prefix evaluated once is kept on disk (`kv_state`), so a new process loads it instead."""
        with self.lock:
            tokens = self.llama.tokenize(prompt.encode(), add_bos=False, special=True)
            self._fits(tokens, 1)
            cached = self.cached_prefix_len(tokens)
            if cached == len(tokens):
                return 0
            if self.kv_cache is not None and self.kv_cache.load(self.llama, self.model_path, tokens):
                return 0
            self.llama.n_tokens = cached
            self._eval(tokens[cached:])
            if self.kv_cache is not None:
                self.kv_cache.save(self.llama, self.model_path, tokens)
            return len(tokens) - cached

    def _eval(self, tokens: Sequence[int]) -> None:
        try:
            self.llama.eval(tokens)
        except RuntimeError as e:  # llama_decode returned n
            raise DecodeFailed(str(e)) from e


def tool_schemas(tools: Sequence[llm.Tool]) -> list[dict[str, Any]]:
    """OpenAI-style function schemas, in a stable order (the prompt prefix must not change between turns)."""
    ctx = llm.ToolContext(list(tools))
    schemas = ctx.parse_function_tools("openai", strict=False)
    return sorted(schemas, key=lambda s: str(s["function"]["name"]))


def _strip_preamble(text: str, preamble: str | None) -> str:
    """The assistant's text without the spoken tool preamble ("One moment."): left in history, the model learns to
    open with it instead of a call, and answers after a tool come out as just the preamble."""
    if preamble:
        p = preamble.strip()
        while p and text.startswith(p):
            text = text[len(p) :].strip()
    return text


def to_template_messages(
    chat_ctx: ChatContext, *, default_instructions: str, preamble: str | None = None, nudge: bool = True
) -> tuple[list[dict[str, Any]], Mode]:
    """ChatContext -> messages for the chat template, and whether this turn may call tools.

    The turn is an `answer` turn when the conversation ends with tool results or has no user message yet (greeting).
    The tool preamble is removed from assistant text (an assistant message that is only the preamble disappears), so
    every earlier request is followed directly by its call. With `nudge`, the results of the current request (all
    steps) are restated next to the question on the user's side; without it they stay as native tool messages.
    """
    system_parts: list[str] = []
    messages: list[dict[str, Any]] = []
    for item in chat_ctx.items:
        if isinstance(item, ChatMessage):
            text = (item.text_content or "").strip()
            if item.role in ("system", "developer"):
                if text:
                    system_parts.append(text)
                continue
            if item.role == "assistant":
                text = _strip_preamble(text, preamble)
            if not text:
                continue
            messages.append({"role": item.role, "content": text})
        elif isinstance(item, FunctionCall):
            try:
                args: Any = json.loads(item.arguments or "{}")
            except ValueError:
                args = {}
            call = {"function": {"name": item.name, "arguments": args}}
            if messages and messages[-1]["role"] == "assistant" and "tool_calls" in messages[-1]:
                messages[-1]["tool_calls"].append(call)
            else:
                messages.append({"role": "assistant", "content": "", "tool_calls": [call]})
        elif isinstance(item, FunctionCallOutput):
            output = item.output.strip() or "(no result)"
            if item.is_error and not output.lower().startswith("error"):
                output = f"Error: {output}"
            messages.append({"role": "tool", "content": output})
    system = "\n\n".join(system_parts) or default_instructions
    mode: Mode = "tools"
    if not messages or messages[-1]["role"] == "tool":
        mode = "answer"
    elif not any(m["role"] == "user" for m in messages):
        mode = "answer"
    if messages and messages[-1]["role"] == "tool" and nudge:
        # restate the question next to the results, on the user's side: a 0.5B answers that reliably, while after
        # a bare <tool_response> it echoes, re-calls or drifts to another topic
        last_user = max(i for i, m in enumerate(messages) if m["role"] == "user") if _has_user(messages) else -1
        head, tail = messages[: last_user + 1], messages[last_user + 1 :]
        calls = [c for m in tail if m["role"] == "assistant" for c in m.get("tool_calls", [])]
        results = [m["content"] for m in tail if m["role"] == "tool"]
        question = head[last_user]["content"] if last_user >= 0 else ""
        messages = [*head, *([{"role": "assistant", "content": "", "tool_calls": calls}] if calls else [])]
        messages.append({"role": "user", "content": ANSWER_NUDGE.format(result=" ".join(results), question=question)})
    elif not messages:
        messages.append({"role": "user", "content": "(The user just joined. Greet them in one short sentence.)"})
    return [{"role": "system", "content": system}, *messages], mode


def _has_user(messages: Sequence[dict[str, Any]]) -> bool:
    return any(m["role"] == "user" for m in messages)


def was_typed(chat_ctx: ChatContext) -> bool:
    """Whether the latest user message was typed: LiveKit gives a transcribed one a `transcript_confidence`."""
    users = [m for m in chat_ctx.items if isinstance(m, ChatMessage) and m.role == "user"]
    return bool(users) and users[-1].transcript_confidence is None


def current_request(chat_ctx: ChatContext) -> tuple[str, list[str]]:
    """The last thing the user said, and the tools already called for it (in this turn's earlier steps)."""
    called: list[str] = []
    for item in reversed(chat_ctx.items):
        if isinstance(item, FunctionCall):
            called.append(item.name)
        elif isinstance(item, ChatMessage) and item.role == "user" and (item.text_content or "").strip():
            return (item.text_content or "").strip(), called[::-1]
    return "", called[::-1]


Decision = Literal["call", "try", "check_alone", "speak"]


def tool_decision(p_tool: float, *, threshold: float, relevant: bool, follow_up: bool) -> Decision:
    """From the probability of a call's first token and whether the request shares a word with a tool (`relevant`)
    or follows a turn that called one (`follow_up`): call (preamble spoken at once), try a call quietly (the preamble
    only if the call holds up: chat such as "Good morning" gets 0.3-0.5, and so does a misheard request), look again
    at the request alone, or speak."""
    if p_tool >= SURE_TOOL_PROBABILITY or (p_tool >= threshold and relevant):
        return "call"
    if follow_up and p_tool >= max(threshold, FOLLOW_UP_PROBABILITY):
        return "call"
    if p_tool >= threshold:
        return "try"
    return "check_alone" if relevant else "speak"


def follows_a_call(messages: Sequence[dict[str, Any]]) -> bool:
    """Whether the user's previous request was answered with a tool call (so this one may be a follow-up:
    "And in Rome?")."""
    users = [i for i, m in enumerate(messages) if m["role"] == "user"]
    if len(users) < 2:
        return False
    between = messages[users[-2] + 1 : users[-1]]
    return any(m["role"] == "assistant" and m.get("tool_calls") for m in between)


def trailing_tool_errors(chat_ctx: ChatContext) -> list[str]:
    """The outputs of the last tool step when every one of them failed (else [])."""
    outputs: list[FunctionCallOutput] = []
    for item in reversed(chat_ctx.items):
        if isinstance(item, FunctionCallOutput):
            outputs.append(item)
        elif isinstance(item, FunctionCall):
            continue
        else:
            break
    if outputs and all(o.is_error for o in outputs):
        return [o.output.strip() for o in reversed(outputs)]
    return []


def request_results(chat_ctx: ChatContext) -> list[FunctionCallOutput]:
    """The tool outputs given for the user's last request (every step since that user message), in order."""
    outputs: list[FunctionCallOutput] = []
    for item in reversed(chat_ctx.items):
        if isinstance(item, FunctionCallOutput):
            outputs.append(item)
        elif isinstance(item, ChatMessage) and item.role == "user":
            break
    return outputs[::-1]


_MAX_SPOKEN_RESULT_CHARS = 240


def prose_answer(outputs: Sequence[FunctionCallOutput], says_as_is: Callable[[str], bool] | None = None) -> str | None:
    """A lone tool result that is already a short spoken answer ("Saved note 1: buy milk.", "The weather in Paris
    is cloudy, 13 degrees Celsius."), to be said as it is; None when the model must phrase one.

    A 0.5B asked to answer from such a sentence only rephrases it, and not always right ("Maria said about the
    invoice."); saying it is also ~0.5-1 s sooner. Structured results (key: value lists, several fields), long or
    cut results, several results and errors still go through the model. Whether a result was cut is known only to
    whoever made it: `says_as_is` (from the app) rejects those."""
    if len(outputs) != 1 or outputs[0].is_error:
        return None
    text = " ".join(outputs[0].output.split())
    if not text or len(text) > _MAX_SPOKEN_RESULT_CHARS or not text.endswith((".", "!", "?")):
        return None
    if text.count(":") > 1 or re.search(r"[{}\[\]<>|=#*`]", text):
        return None
    if says_as_is is not None and not says_as_is(text):
        return None
    if len(re.findall(r"[.!?](?:\s|$)", text)) > 2:
        return None
    return text


class LocalLLM(llm.LLM[Any]):
    """Qwen2.5 (or any GGUF with a chat template) on llama.cpp, for LiveKit's AgentSession."""

    def __init__(
        self,
        model_path: Path,
        *,
        model_name: str = "qwen2.5-coder-0.5b",
        n_ctx: int = 4096,
        threads: int = 2,
        temperature: float = 0.2,
        max_tokens: int = 160,
        seed: int = 7,
        instructions: str = "You are a helpful voice assistant.",
        tool_threshold: float = 0.03,
        tool_preamble: str | None = None,
        speak_prose_results: bool = True,
        result_says_as_is: Callable[[str], bool] | None = None,
        rules_off: Collection[str] = (),
    ) -> None:
        super().__init__()
        unknown = sorted(set(rules_off) - set(grounding.RULES))
        if unknown:
            raise ValueError(f"unknown grounding rules {unknown}; known: {', '.join(grounding.RULES)}")
        self.rules_off = frozenset(rules_off)
        """Grounding rules not applied (to measure what each is worth)."""
        self._model_name = model_name
        self._runtime = LlamaRuntime.shared(model_path, n_ctx=n_ctx, threads=threads, seed=seed)
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.default_instructions = instructions
        self.tool_threshold = tool_threshold
        self.tool_preamble = tool_preamble
        self.speak_prose_results = speak_prose_results
        self.result_says_as_is = result_says_as_is
        """A further check on a lone short tool result before it is said as it is (the app says which were cut)."""
        self.last_stats: GenerationStats | None = None
        self.servers: int | None = None
        """How many servers the tools come from (for the log line when the catalogue is reduced)."""
        self._catalogues: dict[str, catalogue.Catalogue] = {}
        self._warned_mode: catalogue.CatalogueMode | None = None

    @property
    def model(self) -> str:
        return self._model_name

    @property
    def provider(self) -> str:
        return "llama.cpp"

    @property
    def runtime(self) -> LlamaRuntime:
        return self._runtime

    def chat(
        self,
        *,
        chat_ctx: ChatContext,
        tools: list[llm.Tool] | None = None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
        parallel_tool_calls: NotGivenOr[bool] = NOT_GIVEN,
        tool_choice: NotGivenOr[llm.ToolChoice] = NOT_GIVEN,
        extra_kwargs: NotGivenOr[dict[str, Any]] = NOT_GIVEN,
    ) -> LocalLLMStream:
        return LocalLLMStream(
            self,
            chat_ctx=chat_ctx,
            tools=tools or [],
            conn_options=conn_options,
            tool_choice=tool_choice,
        )

    @property
    def prefix_budget(self) -> int:
        """The most tokens the system prompt + tools may take: the context less a turn, its call and its answer."""
        return self._runtime.n_ctx - self.max_tokens - CALL_MARGIN_TOKENS - catalogue.TURN_RESERVE_TOKENS

    @property
    def turn_limit(self) -> int:
        """The most tokens a turn's prompt may take (room left for the call's JSON and the answer)."""
        return self._runtime.n_ctx - self.max_tokens - CALL_MARGIN_TOKENS

    def system_turn(self, instructions: str, tools: Sequence[dict[str, Any]] | None) -> str:
        """The rendered system turn (system prompt + these tools), up to the end of it: shared by every turn."""
        full = self._runtime.render([{"role": "system", "content": instructions}], list(tools) if tools else None)
        end = full.find("<|im_end|>")
        return full[: end + len("<|im_end|>\n")] if end >= 0 else full

    def tool_catalogue(self, instructions: str, schemas: list[dict[str, Any]]) -> catalogue.Catalogue:
        """How the tools are shown for this system prompt and tool set, measured in tokens once and then cached.

        When they had to be reduced (compact catalogue, tool search) one warning says so, with the counts; it is
        said again only if the mode changes."""
        key = catalogue.key(instructions, schemas)
        found = self._catalogues.get(key)
        if found is not None:
            return found
        rt = self._runtime
        chosen = catalogue.choose(
            schemas, lambda tools: rt.count_tokens(self.system_turn(instructions, tools)), self.prefix_budget
        )
        if chosen.mode != self._warned_mode and (chosen.mode != "full" or self._warned_mode is not None):
            extra = {"mode": chosen.mode, "tools": len(schemas), "servers": self.servers, "n_ctx": rt.n_ctx,
                     "full_tokens": chosen.full_tokens, "tokens": chosen.tokens, "budget": chosen.budget}  # fmt: skip
            if chosen.mode == "full":
                logger.info("every tool schema fits the context again", extra=extra)
            else:
                logger.warning(catalogue.summary(chosen, n_ctx=rt.n_ctx, servers=self.servers), extra=extra)
            self._warned_mode = chosen.mode
        if len(self._catalogues) >= 8:
            self._catalogues.pop(next(iter(self._catalogues)))
        self._catalogues[key] = chosen
        return chosen

    def prefix_prompt(self, instructions: str, tools: Sequence[llm.Tool]) -> str:
        """The part of every prompt that doesn't change within a session: the system prompt and the tools in the
        catalogue's mode (tool search: the system prompt up to where the turn's tools go)."""
        chosen = self.tool_catalogue(instructions, tool_schemas(tools))
        if chosen.mode == "search":
            return catalogue.stable_header(lambda t: self.system_turn(instructions, t))
        return self.system_turn(instructions, chosen.prompt or None)

    async def prefill(self, instructions: str, tools: Sequence[llm.Tool], *, servers: int | None = None) -> int:
        """Warm the KV cache with the session's stable prefix; returns the number of newly evaluated tokens.

        Never raises for a prompt that doesn't fit or a failed decode: the turns then say so in a sentence."""
        if servers is not None:
            self.servers = servers
        try:
            prompt = await asyncio.to_thread(self.prefix_prompt, instructions, tools)
            return await asyncio.to_thread(self._runtime.prefill, prompt)
        except (ContextFull, DecodeFailed) as e:
            logger.warning("the system prompt could not be prefilled", extra={"error": str(e)})
            return 0


class LocalLLMStream(llm.LLMStream):
    def __init__(
        self,
        llm_: LocalLLM,
        *,
        chat_ctx: ChatContext,
        tools: list[llm.Tool],
        conn_options: APIConnectOptions,
        tool_choice: NotGivenOr[llm.ToolChoice],
    ) -> None:
        super().__init__(llm_, chat_ctx=chat_ctx, tools=tools, conn_options=conn_options)
        self._local = llm_
        self._tool_choice = tool_choice
        self._request_id = shortuuid("llamacpp_")
        self._shown: list[dict[str, Any]] = []
        """The tools this turn's prompts show (all of them, compacted, or those a search found)."""

    async def _run(self) -> None:
        rt = self._local.runtime
        preamble = self._local.tool_preamble
        instructions = self._local.default_instructions
        messages, mode = to_template_messages(self._chat_ctx, default_instructions=instructions, preamble=preamble)
        stats = GenerationStats(mode=mode)
        self._local.last_stats = stats
        try:
            schemas = await asyncio.to_thread(self._turn_tools, str(messages[0]["content"]))
            if self._tool_choice == "none" or not schemas:
                mode = stats.mode = "answer"
            prompt = self._render(messages)
            failures = trailing_tool_errors(self._chat_ctx)
            if failures:
                # a small model asked to "answer from" an error invents data; the failure itself is the answer
                self._emit_text(spoken_failure(failures))
                return
            if mode == "answer":
                direct = (
                    prose_answer(request_results(self._chat_ctx), self._local.result_says_as_is)
                    if self._local.speak_prose_results
                    else None
                )
                if direct is not None:
                    stats.mode = "result"
                    self._emit_text(direct)
                    return
                await self._stream_text(prompt, rt.grammar(SPEECH_GRAMMAR), stats)
                return
            decision, call_prompt = await self._decide(prompt, messages, schemas, stats)
            if decision == "speak":
                await self._stream_text(prompt, rt.grammar(SPEECH_GRAMMAR), stats)
                return
            if preamble and decision == "call":
                # spoken while the call is still being generated: the first audible response of a tool turn
                # comes right after the decision instead of after the call, the tool and the answer
                self._emit_text(preamble + " ")
            # each attempt costs a call's generation (~0.5-0.8 s): an unsure "try" gets one, so chat in that band
            # ("What is the capital of France?") waits for one rejected call at most, or two when the user said
            # numbers (the retry then goes to the tools taking that many: "What is the sermon 17 and 25?" -> get-sum)
            user_text = _last_user_text(messages)
            attempts = 2 if decision == "call" or grounding.said_numbers(user_text) else 1
            if (stats.tool_probability or 0.0) >= SURE_TOOL_PROBABILITY:
                attempts = MAX_CALL_ATTEMPTS
            calls = await self._generate_calls(call_prompt, schemas, user_text, stats, attempts)
            if calls:
                if preamble and decision == "try":
                    self._emit_text(preamble + " ")
                self._emit_calls(calls)
                return
            if decision == "try":
                # an unsure call that didn't hold up: nothing was said yet, so answer as the model would have
                await self._stream_text(prompt, rt.grammar(SPEECH_GRAMMAR), stats)
                return
            # a hallucinated tool or a hopeless call: answer in speech instead of passing a bad call on
            if stats.invented_values:
                # every call it offered filled in values nobody said (a misheard or unclear request): asked to answer
                # anyway, a 0.5B invents data or echoes the request until its token limit, so say so plainly
                self._emit_text(UNCLEAR_TYPED if was_typed(self._chat_ctx) else UNCLEAR_HEARD)
                return
            await self._stream_text(self._fallback_prompt(messages), rt.grammar(SPEECH_GRAMMAR), stats)
        except ContextFull as e:
            logger.warning("a turn does not fit the model's context", extra={"error": str(e)})
            self._emit_text(TOO_LONG)
        except DecodeFailed as e:
            logger.warning("the local model failed to evaluate a prompt", extra={"error": str(e)})
            logger.debug("decode failure", exc_info=True)
            self._emit_text(DECODE_FAILED)
        except ValueError as e:
            raise APIConnectionError(f"local LLM failed: {e}", retryable=False) from e
        finally:
            self._event_ch.send_nowait(
                llm.ChatChunk(
                    id=self._request_id,
                    usage=llm.CompletionUsage(
                        completion_tokens=stats.completion_tokens,
                        prompt_tokens=stats.prompt_tokens,
                        prompt_cached_tokens=stats.cached_tokens,
                        total_tokens=stats.prompt_tokens + stats.completion_tokens,
                    ),
                )
            )

    async def _decide(
        self, prompt: str, messages: list[dict[str, Any]], schemas: list[dict[str, Any]], stats: GenerationStats
    ) -> tuple[Decision, str]:
        """Whether to call ("call"), try a call quietly ("try") or speak, and the prompt to generate a call from.

        The model's probability of starting a call decides, with the request's words as a second signal: a 0.5B
        gives a call weight after chat it shouldn't act on ("Tell me a joke" -> list_notes), and loses it for a
        clear request after a few turns of chat. A middling probability needs the request to share a word with a
        tool (or to follow a call: "And in Rome?"); a low one for a request that does share a word is checked again
        on the request alone (system prompt + tools + this request, whose prefix is cached: ~20 new tokens).
        """
        rt = self._local.runtime
        if self._tool_choice == "required":
            stats.tool_probability = 1.0
            return "call", prompt
        p_tool = await asyncio.to_thread(rt.tool_start_probability, prompt)
        stats.tool_probability = p_tool
        threshold = self._local.tool_threshold
        if not self._on("relevance_gate"):
            return ("call" if p_tool >= threshold else "speak"), prompt
        user_text = _last_user_text(messages)
        relevant = grounding.relevant_tools(user_text, _descriptions(schemas))
        decision = tool_decision(
            p_tool, threshold=threshold, relevant=bool(relevant), follow_up=follows_a_call(messages)
        )
        if decision == "try":  # without the gate: a call, its preamble at once
            self._fired("relevance_gate", decision=decision)
        if decision != "check_alone":
            return decision, prompt
        alone = self._render([messages[0], {"role": "user", "content": user_text}])
        p_alone = await asyncio.to_thread(rt.tool_start_probability, alone)
        logger.info(
            "tool decision on the request alone",
            extra={"p_tool": round(p_tool, 4), "p_alone": round(p_alone, 4), "tools": sorted(relevant)},
        )
        if p_alone >= threshold:
            stats.tool_probability = p_alone
            self._fired("relevance_gate", decision="call on the request alone")
            return "call", alone
        return "speak", prompt

    async def _generate_calls(
        self, prompt: str, schemas: list[dict[str, Any]], user_text: str, stats: GenerationStats, attempts: int
    ) -> list[toolcalls.ParsedToolCall]:
        """Generate a call under a grammar of the tools' schemas and keep it only if it comes from the user's words;
        a rejected tool is left out of the next attempt (a 0.5B's first pick is often a wrong tool with invented
        inputs, its second the right one). [] when no attempt gives a usable call."""
        rt = self._local.runtime
        by_name = {s["function"]["name"]: s["function"].get("parameters") or {} for s in schemas}
        descriptions = _descriptions(schemas)
        allowed = list(by_name)
        for attempt in range(attempts):
            if not allowed:
                break
            if attempt:
                stats.retries += 1
            # the grammars only fix names, keys and types: length bounds and patterns would explode llama.cpp's
            # grammar (maxLength 2000 -> 2000 repetitions); the parser checks the full schema afterwards.
            # Bare JSON, which is what the model starts with (`{"`): `<tool_call>` is a special token that a text
            # grammar can't match. Only the name and the arguments are generated (call_decoding): the JSON around
            # them is evaluated as a batch, ~8 fewer decoding steps per call
            compact = {name: compact_schema(by_name[name]) for name in allowed}

            async def collect(text: str, gbnf: str, until: Callable[[str], bool]) -> str:
                return "".join(await self._collect(text, rt.grammar(gbnf), stats, until))

            held = await call_decoding.decode_call(prompt, compact, collect, max_argument_chars=len(user_text) + 30)
            parsed = toolcalls.parse_tool_calls(held, by_name)
            if parsed.errors or not parsed.calls:
                logger.info("tool call needs a retry", extra={"raw": held[:300], "errors": parsed.errors})
                named = [n for n in dict.fromkeys(_called_names(held)) if n in allowed]
                if any("incomplete" in e for e in parsed.errors):
                    # cut off at the length of the user's words: the model was writing a value nobody said
                    # ("Is it hot in Cairo?" -> check_package_status("1234567890...")), so it's the wrong tool
                    stats.invented_values += 1
                    others = {n: descriptions.get(n, "") for n in allowed if n not in named}
                    allowed = self._next_tools(user_text, others, by_name)
                else:
                    # the model meant a real tool but produced unusable arguments: retry under that tool's grammar
                    allowed = named
                continue
            kept: list[toolcalls.ParsedToolCall] = []
            for call in parsed.calls:
                check = grounding.check_call(
                    call.name,
                    call.arguments,
                    by_name[call.name],
                    descriptions,
                    user_text,
                    off=self._local.rules_off,
                )
                self._fired(*check.fired, tool=call.name)
                if not check.ok or check.arguments is None:
                    stats.invented_values += check.invented
                    logger.info(
                        "tool call not grounded in the user's words",
                        extra={"tool": call.name, "reason": check.reason, "raw": held[:300]},
                    )
                    others = {n: descriptions.get(n, "") for n in allowed if n != call.name}
                    allowed = self._next_tools(user_text, others, by_name)
                    kept = []
                    break
                kept.append(replace(call, arguments=check.arguments))
            if kept:
                return kept
        return []

    def _next_tools(self, user_text: str, others: dict[str, str], schemas: dict[str, dict[str, Any]]) -> list[str]:
        """The tools a retry after a rejected call may pick from."""
        if not others or not self._on("closest_tools"):
            return list(others)
        closest = grounding.closest_tools(user_text, others, schemas)
        if len(closest) < len(others):
            self._fired("closest_tools", tools=closest)
        return closest

    async def _stream_text(self, prompt: str, grammar: LlamaGrammar | None, stats: GenerationStats) -> None:
        started = False
        async for piece in self._tokens(prompt, grammar, stats):
            if not started:
                piece = piece.lstrip()
                if not piece:
                    continue
                started = True
            self._emit_text(piece)

    async def _collect(
        self,
        prompt: str,
        grammar: LlamaGrammar | None,
        stats: GenerationStats,
        until: Callable[[str], bool] | None = None,
    ) -> list[str]:
        return [p async for p in self._tokens(prompt, grammar, stats, until)]

    async def _tokens(
        self,
        prompt: str,
        grammar: LlamaGrammar | None,
        stats: GenerationStats,
        until: Callable[[str], bool] | None = None,
    ) -> AsyncIterator[str]:
        """Async iterator over tokens produced by the worker thread; cancelling it stops generation."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str | BaseException | None] = asyncio.Queue()
        req = _Request(prompt=prompt, max_tokens=self._local.max_tokens, grammar=grammar, until=until)

        def work() -> None:
            try:
                for piece in self._local.runtime.generate(req, stats, self._local.temperature):
                    loop.call_soon_threadsafe(queue.put_nowait, piece)
            except BaseException as e:  # forwarded to the consumer
                loop.call_soon_threadsafe(queue.put_nowait, e)
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, None)

        worker = loop.run_in_executor(None, work)
        try:
            while True:
                item = await queue.get()
                if item is None:
                    break
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            req.stop_event.set()
            await asyncio.shield(worker)

    def _on(self, rule: str) -> bool:
        return rule not in self._local.rules_off

    def _fired(self, *rules: str, **extra: Any) -> None:
        """Log that grounding rules changed this turn: a run's log shows which scenarios each rule touched."""
        if rules:
            logger.info("grounding rule fired", extra={"rules": list(rules), **extra})

    def _turn_tools(self, instructions: str) -> list[dict[str, Any]]:
        """Choose the tools this turn shows (`self._shown`) from the catalogue's mode; returns the schemas a call
        may be generated for (tool search: only the ones shown)."""
        schemas = tool_schemas(self._tools)
        if not schemas:
            self._shown = []
            return []
        chosen = self._local.tool_catalogue(instructions, schemas)
        question, _ = current_request(self._chat_ctx)
        called = [item.name for item in self._chat_ctx.items if isinstance(item, FunctionCall)]
        count = self._local.runtime.count_tokens
        self._shown = chosen.shown(question, called, lambda t: count(self._local.system_turn(instructions, t)))
        if chosen.mode == "search":
            logger.info(
                "tool search", extra={"request": question[:80], "tools": [catalogue.tool_name(t) for t in self._shown]}
            )
        return chosen.callable_schemas(self._shown)

    def _render(self, messages: list[dict[str, Any]]) -> str:
        """A prompt with this turn's tools that fits the context with room for a call and an answer: the oldest
        history goes first, then long texts are cut; ContextFull when even that isn't enough."""
        rt = self._local.runtime
        tools = self._shown or None
        fitted = catalogue.fit_messages(
            messages, lambda ms: rt.count_tokens(rt.render(ms, tools)), self._local.turn_limit
        )
        if fitted is None:
            raise ContextFull(f"the system prompt, tools and request do not fit the {rt.n_ctx}-token context")
        return rt.render(fitted, tools)

    def _fallback_prompt(self, messages: list[dict[str, Any]]) -> str:
        """The prompt for speech after a rejected call: the model must not describe functions to the user."""
        # on the user's side, after the request: a system turn at the end is read out by a 0.5B as if it were the
        # answer ("None of the tools fits what the user said...")
        last = messages[-1]
        again = "put it another way" if was_typed(self._chat_ctx) else "say it again"
        nudged = {"role": "user", "content": f"{last['content']}\n({FALLBACK_NUDGE.format(again=again)})"}
        return self._render([*messages[:-1], nudged])

    def _emit_text(self, text: str) -> None:
        if text:
            self._event_ch.send_nowait(
                llm.ChatChunk(id=self._request_id, delta=llm.ChoiceDelta(role="assistant", content=text))
            )

    def _emit_calls(self, calls: Sequence[toolcalls.ParsedToolCall]) -> None:
        self._event_ch.send_nowait(
            llm.ChatChunk(
                id=self._request_id,
                delta=llm.ChoiceDelta(
                    role="assistant",
                    tool_calls=[
                        llm.FunctionToolCall(name=c.name, arguments=json.dumps(c.arguments), call_id=shortuuid("call_"))
                        for c in calls
                    ],
                ),
            )
        )


def _called_names(text: str) -> list[str]:
    """Tool names mentioned as `"name": "..."` in a (possibly broken) tool-call output."""

    return re.findall(r'"name"\s*:\s*"([^"]+)"', text)


def _descriptions(schemas: Sequence[dict[str, Any]]) -> dict[str, str]:
    return {str(s["function"]["name"]): str(s["function"].get("description") or "") for s in schemas}


def _last_user_text(messages: Sequence[dict[str, Any]]) -> str:
    for m in reversed(messages):
        if m["role"] == "user":
            return str(m["content"])
    return ""
