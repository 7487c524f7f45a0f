"""A SIMULATED upstream: OpenAI's and Anthropic's wire formats, deterministic text, exact usage.

For trying Tokenomy with no API keys, for tests and for benchmarks. It does no inference: the
reply is pseudo-text picked by a hash of the prompt. JSON bodies, SSE event sequences and error
shapes are the real APIs' (the official ``openai`` and ``anthropic`` SDKs parse them). Routes:
``GET /v1/models``; ``POST /v1/chat/completions``, ``/v1/responses``, ``/v1/embeddings``
(8 floats from a hash; ``encoding_format`` honoured) and Anthropic's ``/v1/messages``.

Usage is exact in ``o200k_base`` tokens:

* prompt = the text of every message (string contents, the ``text`` of content parts;
  Anthropic ``system`` and Responses ``instructions`` are a first message) + 3 per message + 3
  (:func:`count_prompt`);
* the reply is n words of one token each, n = ``output_tokens`` (or ``[sim:tokens=N]``) capped
  by the request's ``max_tokens`` / ``max_completion_tokens`` / ``max_output_tokens``;
* ``sim-large`` also reasons, n // 4 tokens, inside the OpenAI completion total
  (visible + reasoning never exceeds the cap); Anthropic reports no reasoning;
* caching: the hashes of message prefixes of >= 1,024 prompt tokens are kept (at most
  ``CACHE_ENTRIES_MAX`` = 10,000, least recently used evicted). A request that starts with a
  prefix seen before has ``(prefix tokens // 128) x 128`` tokens cached (a repeated prompt: its
  whole prompt). OpenAI's ``cached_tokens`` is part of the prompt total; Anthropic's
  ``cache_read_input_tokens`` is not (``input_tokens`` = prompt - cached).

Pacing (``tokens_per_s > 0``): a stream waits 1 / tokens_per_s before each token (and the
reasoning tokens' worth before the first); a non-streaming reply waits for all of them.

Directives, for tests and demos, in the LAST user message (an unknown one is a 400):

* ``[sim:error=S]``: answer status S (400-599) in the family's error shape, generate nothing;
* ``[sim:tokens=N]``: reply with N tokens (0 to ``OUTPUT_TOKENS_MAX``; still capped);
* ``[sim:no-usage]``: a stream carries no usage (no OpenAI usage chunk; Responses
  ``response.completed`` has ``usage: null``); Anthropic ignores it;
* ``[sim:hang]``: wait ``HANG_S`` (an hour) before answering; a client disconnect ends it;
* ``[sim:drop-after=K]``: a stream sends K tokens, then the connection is closed mid-body (no
  finish, usage or ``[DONE]``; the server logs "ASGI callable returned without completing
  response."). Ignored without ``stream``.

The prompt cache is the only state; each :func:`create_simulator` app has its own.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import re
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Final, Literal

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Send

from tokenomy._invariant import invariant
from tokenomy._recursion import restore_recursion_limit
from tokenomy.meter.tokenizers import ExactTokenizer, get_encoder
from tokenomy.upstream._wire import (
    _anthropic_json,
    _chat_json,
    _chat_usage,
    _embedding,
    _error,
    _message_item,
    _output_text,
    _response_json,
    _sse,
)

__all__ = ["SimulatorConfig", "count_prompt", "create_simulator"]

DEFAULT_MODELS: Final = ("sim-small", "sim-large")
REASONING_MODEL: Final = "sim-large"
ENCODING: Final = "o200k_base"
PER_MESSAGE_TOKENS: Final = 3
REPLY_PRIMING_TOKENS: Final = 3
CACHE_ENTRIES_MAX: Final = 10_000
CACHE_PROMPT_TOKENS_MIN: Final = 1_024
CACHE_BLOCK_TOKENS: Final = 128
OUTPUT_TOKENS_MAX: Final = 100_000
BODY_BYTES_MAX: Final = 8 * 1024 * 1024
EMBEDDING_INPUTS_MAX: Final = 2_048
HANG_S: Final = 3600.0
MODELS_CREATED: Final = 1_700_000_000  # the fixed ``created`` of every listed model
# Each is one o200k token both bare and after a space, so n words are exactly n tokens.
WORDS: Final = (
    "the", "token", "price", "meter", "ledger", "budget", "cost", "value", "market", "trade",
    "stream", "model", "input", "output", "cache", "credit", "order", "rate", "unit", "cent",
    "cash", "account", "limit", "usage", "bill", "fee", "charge", "balance", "reserve",
    "payment", "fund", "plan", "energy", "compute", "time", "data", "signal", "layer",
)

_Family = Literal["openai", "anthropic"]
_DIRECTIVE_RE: Final = re.compile(r"\[sim:([^\]]*)\]")


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    """Settings of the SIMULATOR (no real inference): pacing, reply length, model names."""

    tokens_per_s: int = 200  # 0: no pacing
    output_tokens: int = 32  # reply length when the request's cap allows
    models: tuple[str, ...] = DEFAULT_MODELS

    def __post_init__(self) -> None:
        invariant(self.tokens_per_s >= 0, "tokens_per_s must be >= 0")
        invariant(0 <= self.output_tokens <= OUTPUT_TOKENS_MAX, "output_tokens out of range")
        invariant(len(self.models) > 0, "at least one model")


@dataclass(frozen=True, slots=True)
class _Directives:
    error_status: int | None = None
    tokens: int | None = None
    no_usage: bool = False
    hang: bool = False
    drop_after: int | None = None


@dataclass(eq=False)
class _Rejected(Exception):
    """Bad input: answered with ``status`` in the family's error shape; nothing changes."""

    status: int
    message: str
    param: str | None = None
    code: str | None = None


def _number(text: str, low: int, high: int, name: str) -> int:
    if not text.isdigit() or not low <= int(text) <= high:
        raise _Rejected(400, f"[sim:{name}=...] needs an integer from {low} to {high}")
    return int(text)


def _directives(text: str) -> _Directives:
    found: dict[str, Any] = {}
    for body in _DIRECTIVE_RE.findall(text):
        name, _, value = body.strip().partition("=")
        if name == "error":
            found["error_status"] = _number(value, 400, 599, name)
        elif name in ("tokens", "drop-after"):
            found[name.replace("-", "_")] = _number(value, 0, OUTPUT_TOKENS_MAX, name)
        elif name in ("no-usage", "hang") and not value:
            found[name.replace("-", "_")] = True
        else:
            raise _Rejected(400, f"unknown simulator directive [sim:{body}]")
    return _Directives(**found)


def _message_texts(message: Mapping[str, Any]) -> list[str]:
    content = message.get("content")
    if isinstance(content, str):
        return [content]
    if not isinstance(content, list):
        return []
    return [part["text"] for part in content
            if isinstance(part, Mapping) and isinstance(part.get("text"), str)]


def count_prompt(messages: Sequence[Mapping[str, Any]]) -> int:
    """The prompt tokens the simulator reports for chat-shaped ``messages``.

    Each message is ``{"role", "content"}``, content a string or a list of parts whose ``text``
    counts: o200k tokens of all texts + 3 per message + 3. Anthropic's ``system`` and the
    Responses ``instructions`` are a first ``{"role": "system"}`` message; a Responses
    ``input`` string is one user message.
    """
    encoder = get_encoder(ENCODING)
    texts = sum(encoder.count(t) for m in messages for t in _message_texts(m))
    return texts + PER_MESSAGE_TOKENS * len(messages) + REPLY_PRIMING_TOKENS


@dataclass(frozen=True, slots=True)
class _Ask:
    """One request, family-neutral."""

    id_prefix: str  # "chatcmpl-", "resp_" or "msg_"
    model: str
    messages: tuple[Mapping[str, Any], ...]  # chat-shaped, see count_prompt
    cap: int | None
    stream: bool
    include_usage: bool = False
    reasoning: bool = False  # the family reports reasoning tokens
    echo: Mapping[str, Any] = field(default_factory=dict)  # fields the reply repeats


@dataclass(frozen=True, slots=True)
class _Plan:
    """One reply, fixed before anything is sent."""

    ask: _Ask
    directives: _Directives
    prompt_tokens: int
    cached_tokens: int
    words: tuple[str, ...]  # the visible reply, one token each
    reasoning_tokens: int
    truncated: bool  # stopped by the request's cap
    reply_id: str
    item_id: str
    created: int
    text: str = field(init=False)
    completion_tokens: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "text", "".join(self.words))
        object.__setattr__(self, "completion_tokens", len(self.words) + self.reasoning_tokens)
        invariant(0 <= self.cached_tokens <= self.prompt_tokens, "cached within the prompt")
        invariant(self.ask.cap is None or self.completion_tokens <= self.ask.cap, "within cap")


def _prefixes(encoder: ExactTokenizer, ask: _Ask) -> list[tuple[bytes, int]]:
    """(hash, prompt tokens) of each message prefix, shortest first; the last is the prompt."""
    digest = hashlib.blake2b(ask.model.encode(), digest_size=16).digest()
    tokens, out = 0, []
    for message in ask.messages:
        texts = _message_texts(message)
        tokens += PER_MESSAGE_TOKENS + sum(encoder.count(t) for t in texts)
        role = json.dumps([str(message.get("role", "")), texts]).encode()
        digest = hashlib.blake2b(role, digest_size=16, key=digest).digest()
        out.append((digest, tokens))
    out[-1] = (out[-1][0], tokens + REPLY_PRIMING_TOKENS)
    return out


def _cached_tokens(seen: OrderedDict[bytes, None], prefixes: Sequence[tuple[bytes, int]]) -> int:
    """Tokens of the longest prefix in ``seen``, in whole blocks; records every long prefix."""
    hit = 0
    for key, tokens in prefixes:
        if tokens >= CACHE_PROMPT_TOKENS_MIN:
            hit = tokens if key in seen else hit
            seen[key] = None
            seen.move_to_end(key)
            if len(seen) > CACHE_ENTRIES_MAX:
                seen.popitem(last=False)
    return hit // CACHE_BLOCK_TOKENS * CACHE_BLOCK_TOKENS


def _reply_words(seed: bytes, n: int) -> tuple[str, ...]:
    start = int.from_bytes(seed[:8], "big")
    picks = (WORDS[(start + i * 7) % len(WORDS)] for i in range(n))
    return tuple(word if i == 0 else " " + word for i, word in enumerate(picks))


def _last_user_text(messages: Sequence[Mapping[str, Any]]) -> str:
    user = [m for m in messages if m.get("role") == "user"]
    return "\n".join(_message_texts(user[-1])) if user else ""


# --- request parsing (bad input raises _Rejected) -------------------------------------------


async def _read_json(request: Request) -> dict[str, Any]:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > BODY_BYTES_MAX:
            raise _Rejected(413, f"request body over {BODY_BYTES_MAX} bytes")
    try:
        data = json.loads(bytes(body))
    except (ValueError, RecursionError):
        raise _Rejected(400, "We could not parse the JSON body of your request.") from None
    if not isinstance(data, dict):
        raise _Rejected(400, "the request body must be a JSON object")
    return data


def _int_field(body: Mapping[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise _Rejected(400, f"{name} must be an integer >= 1", name)
    return value


def _flag(body: Mapping[str, Any], name: str) -> bool:
    value = body.get(name)
    if value is not None and not isinstance(value, bool):
        raise _Rejected(400, f"{name} must be a boolean", name)
    return value is True


def _model(body: Mapping[str, Any]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _Rejected(400, "you must provide a model parameter", "model")
    return model


def _content_ok(content: Any) -> bool:
    return content is None or isinstance(content, str) or (
        isinstance(content, list) and all(isinstance(part, dict) for part in content))


def _messages(value: Any, name: str) -> tuple[Mapping[str, Any], ...]:
    if not isinstance(value, list) or not value:
        raise _Rejected(400, f"{name} must be a non-empty array", name)
    message: Any
    for i, message in enumerate(value):
        if not isinstance(message, dict) or not _content_ok(message.get("content")):
            raise _Rejected(400, f"{name}[{i}] must be an object with string or array content",
                            f"{name}[{i}]")
    return tuple(value)


def _system(value: Any, name: str) -> tuple[Mapping[str, Any], ...]:
    if value is not None and not (isinstance(value, str) or _content_ok(value)):
        raise _Rejected(400, f"{name} must be a string or an array of text blocks", name)
    return () if value is None else ({"role": "system", "content": value},)


def _parse_chat(body: Mapping[str, Any]) -> _Ask:
    model, messages = _model(body), _messages(body.get("messages"), "messages")
    cap = _int_field(body, "max_completion_tokens") or _int_field(body, "max_tokens")
    options = body.get("stream_options")
    include = isinstance(options, dict) and options.get("include_usage") is True
    return _Ask("chatcmpl-", model, messages, cap, _flag(body, "stream"), include, True)


def _parse_responses(body: Mapping[str, Any]) -> _Ask:
    model, given = _model(body), body.get("input")
    if isinstance(given, str) and given:
        given = [{"role": "user", "content": given}]
    messages = _system(body.get("instructions"), "instructions") + _messages(given, "input")
    cap = _int_field(body, "max_output_tokens")
    echo: dict[str, Any] = {"instructions": body.get("instructions"), "max_output_tokens": cap}
    return _Ask("resp_", model, messages, cap, _flag(body, "stream"), reasoning=True, echo=echo)


def _parse_messages(body: Mapping[str, Any]) -> _Ask:
    model, cap = _model(body), _int_field(body, "max_tokens")
    if cap is None:
        raise _Rejected(400, "max_tokens: Field required", "max_tokens")
    messages = _system(body.get("system"), "system") + _messages(body.get("messages"), "messages")
    return _Ask("msg_", model, messages, cap, _flag(body, "stream"))


def _embedding_inputs(given: Any) -> list[str | list[int]]:
    def tokens(x: Any) -> bool:
        return isinstance(x, list) and all(type(t) is int for t in x)

    items = [given] if isinstance(given, str) or (tokens(given) and given) else given
    if not (isinstance(items, list) and 0 < len(items) <= EMBEDDING_INPUTS_MAX and all(
            (isinstance(x, str) or tokens(x)) and x for x in items)):
        raise _Rejected(400, "input must be a non-empty string, array of strings or token "
                        f"arrays (at most {EMBEDDING_INPUTS_MAX})", "input")
    return items


class _EventStream(StreamingResponse):
    """SSE. With ``complete=False`` the chunked body is never terminated: the server closes
    the connection mid-body (``[sim:drop-after=K]``)."""

    def __init__(self, events: AsyncIterator[bytes], complete: bool) -> None:
        super().__init__(events, media_type="text/event-stream",
                         headers={"cache-control": "no-cache"})
        self.complete = complete

    async def stream_response(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code,
                    "headers": self.raw_headers})
        async for chunk in self.body_iterator:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        if self.complete:
            await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _client_gone_within(request: Request, seconds: float) -> bool:
    """Sleep ``seconds``, less if the client disconnects first; True when it did."""

    async def gone() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass

    try:
        await asyncio.wait_for(gone(), timeout=seconds)
    except TimeoutError:
        return False
    return True


class _Simulator:
    """The routes; owns the config, the encoder, the prompt cache, the clock and the ids."""

    def __init__(self, config: SimulatorConfig, clock: Callable[[], float],
                 new_id: Callable[[], str]) -> None:
        self.config, self.clock, self.new_id = config, clock, new_id
        self.encoder = get_encoder(ENCODING)
        for word in WORDS:
            invariant(len(self.encoder.encode(word)) == len(self.encoder.encode(" " + word)) == 1,
                      f"reply word {word!r} is not one {ENCODING} token")
        self.seen: OrderedDict[bytes, None] = OrderedDict()  # prompt cache, CACHE_ENTRIES_MAX

    async def models(self, request: Request) -> Response:
        data = [{"id": m, "object": "model", "created": MODELS_CREATED, "owned_by": "simulator"}
                for m in self.config.models]
        return JSONResponse({"object": "list", "data": data})

    async def embeddings(self, request: Request) -> Response:
        try:
            body = await _read_json(request)
            model, items = self._known(_model(body)), _embedding_inputs(body.get("input"))
            form = body.get("encoding_format") or "float"
            if form not in ("float", "base64"):
                raise _Rejected(400, "encoding_format must be float or base64", "encoding_format")
        except _Rejected as exc:
            return _error("openai", exc)
        data = [{"object": "embedding", "index": i, "embedding": _embedding(x, form == "base64")}
                for i, x in enumerate(items)]
        tokens = sum(self.encoder.count(x) if isinstance(x, str) else len(x) for x in items)
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        return JSONResponse({"object": "list", "data": data, "model": model, "usage": usage})

    def _known(self, model: str) -> str:
        if model not in self.config.models:
            raise _Rejected(404, f"The model `{model}` does not exist or you do not have "
                            "access to it.", "model", "model_not_found")
        return model

    async def answer(self, family: _Family, parse: Callable[[dict[str, Any]], _Ask],
                     render: Callable[[_Plan], dict[str, Any]],
                     stream: Callable[[_Plan], AsyncIterator[bytes]], request: Request,
                     ) -> Response:
        """A chat-like route: parse, check, plan, then reply whole or as a stream."""
        try:
            ask = parse(await _read_json(request))
            self._known(ask.model)
            directives = _directives(_last_user_text(ask.messages))
        except _Rejected as exc:
            return _error(family, exc)
        if directives.error_status is not None:
            return _error(family, _Rejected(directives.error_status, "simulated error"))
        if directives.hang and await _client_gone_within(request, HANG_S):
            return Response(status_code=499)  # the client is gone; nobody reads this
        plan = self._plan(ask, directives)
        if ask.stream:
            return _EventStream(stream(plan), complete=directives.drop_after is None)
        tps = self.config.tokens_per_s
        if tps and await _client_gone_within(request, plan.completion_tokens / tps):
            return Response(status_code=499)
        return JSONResponse(render(plan))

    def _plan(self, ask: _Ask, directives: _Directives) -> _Plan:
        prefixes = _prefixes(self.encoder, ask)
        prompt_tokens = prefixes[-1][1]
        wanted = self.config.output_tokens if directives.tokens is None else directives.tokens
        n = wanted if ask.cap is None else min(wanted, ask.cap)
        reasoning = n // 4 if ask.reasoning and ask.model == REASONING_MODEL else 0
        visible = n if ask.cap is None else min(n, ask.cap - reasoning)
        return _Plan(ask, directives, prompt_tokens, _cached_tokens(self.seen, prefixes),
                     _reply_words(prefixes[-1][0], visible), reasoning, visible < wanted,
                     ask.id_prefix + self.new_id(), "msg_" + self.new_id(), int(self.clock()))

    async def _paced(self, plan: _Plan) -> AsyncIterator[str]:
        """The reply's words, one per tick; only the first ``drop_after`` if that is set."""
        tps = self.config.tokens_per_s
        if tps and plan.reasoning_tokens:
            await asyncio.sleep(plan.reasoning_tokens / tps)
        for word in plan.words[:plan.directives.drop_after]:
            if tps:
                await asyncio.sleep(1 / tps)
            yield word

    async def chat_stream(self, plan: _Plan) -> AsyncIterator[bytes]:
        usage_on = plan.ask.include_usage
        head = {"id": plan.reply_id, "object": "chat.completion.chunk", "created": plan.created,
                "model": plan.ask.model, "service_tier": "default", "system_fingerprint": None}

        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            return _sse({**head, "choices": [choice], **({"usage": None} if usage_on else {})})

        yield chunk({"role": "assistant", "content": "", "refusal": None})
        async for word in self._paced(plan):
            yield chunk({"content": word})
        if plan.directives.drop_after is not None:
            return
        yield chunk({}, "length" if plan.truncated else "stop")
        if usage_on and not plan.directives.no_usage:
            yield _sse({**head, "choices": [], "usage": _chat_usage(plan)})
        yield b"data: [DONE]\n\n"

    async def responses_stream(self, plan: _Plan) -> AsyncIterator[bytes]:
        numbers = itertools.count()

        def event(name: str, **fields: Any) -> bytes:
            return _sse({"type": name, "sequence_number": next(numbers), **fields}, name)

        where = {"item_id": plan.item_id, "output_index": 0, "content_index": 0}
        yield event("response.created", response=_response_json(plan, False))
        yield event("response.in_progress", response=_response_json(plan, False))
        yield event("response.output_item.added", output_index=0,
                    item=_message_item(plan, False))
        yield event("response.content_part.added", **where, part=_output_text(""))
        async for word in self._paced(plan):
            yield event("response.output_text.delta", **where, delta=word, logprobs=[])
        if plan.directives.drop_after is not None:
            return
        yield event("response.output_text.done", **where, text=plan.text, logprobs=[])
        yield event("response.content_part.done", **where, part=_output_text(plan.text))
        yield event("response.output_item.done", output_index=0, item=_message_item(plan, True))
        final = _response_json(plan, True, usage=not plan.directives.no_usage)
        yield event("response.incomplete" if plan.truncated else "response.completed",
                    response=final)

    async def anthropic_stream(self, plan: _Plan) -> AsyncIterator[bytes]:
        def event(name: str, **fields: Any) -> bytes:
            return _sse({"type": name, **fields}, name)

        yield event("message_start", message=_anthropic_json(plan, done=False))
        yield event("content_block_start", index=0, content_block={"type": "text", "text": ""})
        yield event("ping")
        async for word in self._paced(plan):
            yield event("content_block_delta", index=0,
                        delta={"type": "text_delta", "text": word})
        if plan.directives.drop_after is not None:
            return
        yield event("content_block_stop", index=0)
        stop = "max_tokens" if plan.truncated else "end_turn"
        yield event("message_delta", delta={"stop_reason": stop, "stop_sequence": None},
                    usage={"output_tokens": plan.completion_tokens})
        yield event("message_stop")


def create_simulator(config: SimulatorConfig, *, clock: Callable[[], float] = time.time,
                     new_id: Callable[[], str] = lambda: uuid.uuid4().hex) -> Starlette:
    """The simulator app (see the module docstring). ``clock`` gives ``created`` (seconds),
    ``new_id`` the unique part of ids. Loads the o200k tokenizer (up to ~2 s the first time)."""
    restore_recursion_limit()  # deep JSON must not overflow a thread's stack
    sim = _Simulator(config, clock, new_id)
    return Starlette(routes=[
        Route("/v1/models", sim.models, methods=["GET"]),
        Route("/v1/chat/completions", methods=["POST"], endpoint=partial(
            sim.answer, "openai", _parse_chat, _chat_json, sim.chat_stream)),
        Route("/v1/responses", methods=["POST"], endpoint=partial(
            sim.answer, "openai", _parse_responses, _response_json, sim.responses_stream)),
        Route("/v1/messages", methods=["POST"], endpoint=partial(
            sim.answer, "anthropic", _parse_messages, _anthropic_json, sim.anthropic_stream)),
        Route("/v1/embeddings", sim.embeddings, methods=["POST"]),
    ])
