"""The simulator's wire formats: a fixed reply plan in, OpenAI / Anthropic JSON or SSE bytes out
(pure rendering, split from :mod:`tokenomy.upstream.simulator`)."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import struct
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from starlette.responses import JSONResponse, Response

if TYPE_CHECKING:
    from tokenomy.upstream.simulator import _Family, _Plan, _Rejected

EMBEDDING_DIMENSIONS: Final = 8
_ANTHROPIC_ERRORS: Final = {400: "invalid_request_error", 401: "authentication_error",
                            402: "billing_error", 403: "permission_error", 404: "not_found_error",
                            413: "request_too_large", 429: "rate_limit_error", 500: "api_error",
                            504: "timeout_error", 529: "overloaded_error"}


# --- rendering (pure: plan in, JSON or SSE bytes out) ------------------------------------------


def _error(family: _Family, exc: _Rejected) -> Response:
    if family == "anthropic":
        default = "api_error" if exc.status >= 500 else "invalid_request_error"
        detail = {"type": _ANTHROPIC_ERRORS.get(exc.status, default), "message": exc.message}
        return JSONResponse({"type": "error", "error": detail}, status_code=exc.status)
    kind = "server_error" if exc.status >= 500 else "invalid_request_error"
    code = exc.code or ("rate_limit_exceeded" if exc.status == 429 else None)
    error = {"message": exc.message, "type": kind, "param": exc.param, "code": code}
    return JSONResponse({"error": error}, status_code=exc.status)


def _sse(data: Mapping[str, Any], event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def _chat_usage(plan: _Plan) -> dict[str, Any]:
    return {"prompt_tokens": plan.prompt_tokens, "completion_tokens": plan.completion_tokens,
            "total_tokens": plan.prompt_tokens + plan.completion_tokens,
            "prompt_tokens_details": {"cached_tokens": plan.cached_tokens, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": plan.reasoning_tokens, "audio_tokens": 0,
                "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}}


def _chat_json(plan: _Plan) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": plan.text, "refusal": None,
                               "annotations": []}
    choice = {"index": 0, "message": message, "logprobs": None,
              "finish_reason": "length" if plan.truncated else "stop"}
    return {"id": plan.reply_id, "object": "chat.completion", "created": plan.created,
            "model": plan.ask.model, "choices": [choice], "usage": _chat_usage(plan),
            "service_tier": "default", "system_fingerprint": None}


def _output_text(text: str) -> dict[str, Any]:
    return {"type": "output_text", "annotations": [], "logprobs": [], "text": text}


def _message_item(plan: _Plan, done: bool) -> dict[str, Any]:
    status = "in_progress" if not done else "incomplete" if plan.truncated else "completed"
    return {"id": plan.item_id, "type": "message", "status": status, "role": "assistant",
            "content": [_output_text(plan.text)] if done else []}


def _response_json(plan: _Plan, done: bool = True, usage: bool = True) -> dict[str, Any]:
    item = _message_item(plan, done)
    usage_json = {"input_tokens": plan.prompt_tokens, "output_tokens": plan.completion_tokens,
                  "input_tokens_details": {"cached_tokens": plan.cached_tokens,
                                           "cache_write_tokens": 0},
                  "output_tokens_details": {"reasoning_tokens": plan.reasoning_tokens},
                  "total_tokens": plan.prompt_tokens + plan.completion_tokens}
    return {"id": plan.reply_id, "object": "response", "created_at": plan.created,
            "status": item["status"], "background": False, "error": None,
            "incomplete_details": {"reason": "max_output_tokens"}
            if done and plan.truncated else None,
            "model": plan.ask.model, "output": [item] if done else [],
            "parallel_tool_calls": True, "previous_response_id": None,
            "reasoning": {"effort": None, "summary": None}, "store": False,
            "temperature": 1.0, "text": {"format": {"type": "text"}}, "tool_choice": "auto",
            "tools": [], "top_p": 1.0, "truncation": "disabled", "user": None, "metadata": {},
            "usage": usage_json if done and usage else None, **plan.ask.echo}


def _anthropic_json(plan: _Plan, done: bool = True) -> dict[str, Any]:
    stop = ("max_tokens" if plan.truncated else "end_turn") if done else None
    usage = {"input_tokens": plan.prompt_tokens - plan.cached_tokens,
             "cache_creation_input_tokens": 0, "cache_read_input_tokens": plan.cached_tokens,
             "output_tokens": plan.completion_tokens if done else 1}
    return {"id": plan.reply_id, "type": "message", "role": "assistant",
            "model": plan.ask.model, "content": [{"type": "text", "text": plan.text}]
            if done else [], "stop_reason": stop, "stop_sequence": None, "usage": usage}


def _embedding(item: str | list[int], base64_form: bool) -> list[float] | str:
    """``EMBEDDING_DIMENSIONS`` float32 values of unit length, from a hash of ``item``."""
    text = item if isinstance(item, str) else json.dumps(item)
    digest = hashlib.blake2b(text.encode(), digest_size=4 * EMBEDDING_DIMENSIONS).digest()
    raw = [int.from_bytes(digest[i:i + 4], "big") / 2**31 - 1.0 for i in range(0, len(digest), 4)]
    norm = math.sqrt(sum(x * x for x in raw)) or 1.0
    packed = struct.pack(f"<{EMBEDDING_DIMENSIONS}f", *(x / norm for x in raw))
    if base64_form:
        return base64.b64encode(packed).decode()
    return list(struct.unpack(f"<{EMBEDDING_DIMENSIONS}f", packed))  # the float32 values
