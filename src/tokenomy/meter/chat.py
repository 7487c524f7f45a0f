"""Chat overhead: OpenAI-style messages and tool definitions in, prompt token counts out.

In: ``messages`` (mappings with ``role``, ``content`` as a string or a list of parts, optional
``name``, ``tool_calls`` and ``tool_call_id``), ``tools`` (OpenAI ``{"type": "function",
"function": {...}}`` entries), a :class:`~tokenomy.meter.tokenizers.Tokenizer` and a
``family``. Out: an ``int`` of prompt tokens for the text of the request.

Only text is counted here: parts of type ``text``, ``input_text`` and ``output_text``.
Image, audio, file and other parts are skipped (the media module prices those), as are keys
this module does not know. Per family:

openai
    The OpenAI cookbook rule ("How to count tokens with tiktoken"): 3 tokens per message, the
    tokens of every counted value (role, content, name), +1 per ``name``, +3 priming the reply
    (``<|start|>assistant<|message|>``). It reproduces the cookbook's checked examples exactly:
    129 (cl100k_base) and 124 (o200k_base) tokens; tools: 105 and 101. Tool definitions use
    the cookbook's ``num_tokens_for_tools`` constants (function 7 on o200k, 10 on cl100k;
    property 3, enum -3 + 3 per item, end 12); schema parts it does not model (nested
    objects, ``items``, ``required``...) are added as compact JSON text, which leans over.
qwen
    The real ChatML template of Qwen2/2.5/3: ``<|im_start|>role\\ncontent<|im_end|>\\n`` is
    3 special/newline tokens plus the tokens of ``role + "\\n" + content`` counted together;
    the reply is primed with ``<|im_start|>assistant\\n``. No default system prompt is added.
deepseek
    DeepSeek-V3's template: one BOS, then ``<｜User｜>`` (1) before user text,
    ``<｜Assistant｜>`` and ``<｜end▁of▁sentence｜>`` (2) around assistant text, system text
    bare (0) and 4 for a tool result (``<｜tool▁outputs▁begin｜>`` ... ``end``); +1 priming.
anthropic
    No published rule. 5 per message (role included) and 3 for the reply: a conversation
    of "hi", "hi" was billed 15 tokens by Claude Opus 4.7 and 9 by 4.6 (third-party probe of
    the API's usage); this rule gives 17 with ``claude_estimate``. Tools add Anthropic's
    documented tool-use system prompt (346 tokens, Claude 4.x, ``tool_choice`` auto/none)
    plus the schemas as JSON.
gemini
    No published rule. 5 per message (role included) and 3 for the reply, the size of Gemma's
    ``<start_of_turn>role\\n ... <end_of_turn>\\n`` turn format (Gemma is Gemini's open
    sibling); tools as JSON text plus the Qwen tool preamble size.

Tool calls inside messages count the function name and the ``arguments`` text plus a
per-call wrapper (``TOOL_CALL_TOKENS``). Every per-message constant is an upper-leaning guess
where no rule is published; counts with an estimating tokenizer stay estimates.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Final

from tokenomy.meter.errors import MeterError
from tokenomy.meter.tokenizers import Tokenizer

__all__ = [
    "FAMILIES",
    "TOOL_CALL_TOKENS",
    "UnknownFamilyError",
    "count_chat",
    "count_tools",
    "message_text",
]

FAMILIES: Final[tuple[str, ...]] = ("openai", "anthropic", "gemini", "deepseek", "qwen")

TEXT_PART_TYPES: Final = frozenset({"text", "input_text", "output_text"})

# Per-message and reply-priming tokens of the families without an exact template here.
_FLAT_OVERHEAD: Final[dict[str, tuple[int, int]]] = {
    "openai": (3, 3),  # cookbook
    "anthropic": (5, 3),
    "gemini": (5, 3),
}
_DEEPSEEK_ROLE_TOKENS: Final[dict[str, int]] = {"system": 0, "user": 1, "assistant": 2, "tool": 4}
_DEEPSEEK_OTHER_ROLE_TOKENS: Final = 4
_DEEPSEEK_BOS_AND_PRIMING: Final = 2
_QWEN_MESSAGE_TOKENS: Final = 3  # <|im_start|>, <|im_end|>, "\n"
_QWEN_REPLY_PRIMING_TEXT: Final = "assistant\n"  # after one <|im_start|>

# Wrapper tokens of one tool call in an assistant message, beyond its name and arguments.
# qwen: '\n<tool_call>\n{"name": "", "arguments": }\n</tool_call>' with the two tags as single
# tokens is 14 tokens (pieces counted apart); deepseek: begin, "function", sep, "\n```json\n",
# "\n```", end and the per-message calls begin/end, ~12; openai/anthropic/gemini: no published
# rule, 12.
TOOL_CALL_TOKENS: Final[dict[str, int]] = {
    "openai": 12,
    "anthropic": 12,
    "gemini": 12,
    "deepseek": 12,
    "qwen": 14,
}

# Anthropic tool-use system prompt, Claude 4.x, tool_choice auto/none (313 for any/tool).
_ANTHROPIC_TOOLS_SYSTEM_TOKENS: Final = 346
# Qwen2.5's tool preamble (its chat template), counted with the given tokenizer.
_TOOLS_PREAMBLE_TEXT: Final = (
    "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>"
    "\n</tools>\n\nFor each function call, return a json object with function name and "
    "arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n"
    '{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>'
)
# OpenAI cookbook num_tokens_for_tools constants.
_OPENAI_FUNC_INIT: Final[dict[str, int]] = {"cl100k_base": 10}
_OPENAI_FUNC_INIT_DEFAULT: Final = 7
_OPENAI_PROP_INIT: Final = 3
_OPENAI_PROP_KEY: Final = 3
_OPENAI_ENUM_INIT: Final = -3
_OPENAI_ENUM_ITEM: Final = 3
_OPENAI_FUNC_END: Final = 12
_OPENAI_MODELED_PROPERTY_KEYS: Final = frozenset({"type", "description", "enum"})


class UnknownFamilyError(MeterError):
    """A chat family not in :data:`FAMILIES`."""

    type = "unknown_family"

    def __init__(self, family: str) -> None:
        super().__init__(f"unknown chat family {family!r}; known: {', '.join(FAMILIES)}")
        self.family = family


def _check_family(family: str) -> None:
    if family not in FAMILIES:
        raise UnknownFamilyError(family)


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _as_text(value: object) -> str:
    return value if isinstance(value, str) else _json(value)


def message_text(message: Mapping[str, object]) -> list[str]:
    """The text parts of ``message["content"]``, in order; non-text parts are skipped."""
    content = message.get("content")
    if content is None:
        return []
    if isinstance(content, str):
        return [content]
    if not isinstance(content, Sequence):
        return [_as_text(content)]
    texts: list[str] = []
    for part in content:
        if isinstance(part, str):
            texts.append(part)
        elif isinstance(part, Mapping) and part.get("type") in TEXT_PART_TYPES:
            texts.append(_as_text(part.get("text", "")))
    return texts


def _tool_calls_tokens(message: Mapping[str, object], tokenizer: Tokenizer, family: str) -> int:
    calls = message.get("tool_calls")
    if not isinstance(calls, Sequence) or isinstance(calls, str):
        return 0
    total = 0
    for call in calls:
        if not isinstance(call, Mapping):
            continue
        function = call.get("function")
        fn = function if isinstance(function, Mapping) else call
        total += TOOL_CALL_TOKENS[family]
        total += tokenizer.count(_as_text(fn.get("name", "")))
        total += tokenizer.count(_as_text(fn.get("arguments", "")))
    return total


def _role(message: Mapping[str, object]) -> str:
    return _as_text(message.get("role", ""))


def _count_flat(messages: Sequence[Mapping[str, object]], tokenizer: Tokenizer, family: str) -> int:
    per_message, per_reply = _FLAT_OVERHEAD[family]
    total = per_reply
    for message in messages:
        total += per_message
        if (
            family == "openai"
        ):  # the cookbook counts the role's tokens; the others' constants hold it
            total += tokenizer.count(_role(message))
        total += sum(tokenizer.count(text) for text in message_text(message))
        if "name" in message:
            total += 1 + tokenizer.count(_as_text(message["name"]))
        if "tool_call_id" in message:
            total += tokenizer.count(_as_text(message["tool_call_id"]))
        total += _tool_calls_tokens(message, tokenizer, family)
    return total


def _count_qwen(messages: Sequence[Mapping[str, object]], tokenizer: Tokenizer) -> int:
    total = 1 + tokenizer.count(_QWEN_REPLY_PRIMING_TEXT)
    for message in messages:
        role, content = _role(message), "".join(message_text(message))
        if role == "tool":  # rendered as a user turn wrapping <tool_response> (as plain text)
            role, content = "user", f"<tool_response>\n{content}\n</tool_response>"
        total += _QWEN_MESSAGE_TOKENS + tokenizer.count(f"{role}\n{content}")
        total += _tool_calls_tokens(message, tokenizer, "qwen")
    return total


def _count_deepseek(messages: Sequence[Mapping[str, object]], tokenizer: Tokenizer) -> int:
    total = _DEEPSEEK_BOS_AND_PRIMING
    for message in messages:
        total += _DEEPSEEK_ROLE_TOKENS.get(_role(message), _DEEPSEEK_OTHER_ROLE_TOKENS)
        total += tokenizer.count("".join(message_text(message)))
        total += _tool_calls_tokens(message, tokenizer, "deepseek")
    return total


def count_chat(messages: Sequence[Mapping[str, object]], tokenizer: Tokenizer, family: str) -> int:
    """Prompt tokens of the text of ``messages`` in ``family``'s chat format (see module doc)."""
    _check_family(family)
    if family == "qwen":
        return _count_qwen(messages, tokenizer)
    if family == "deepseek":
        return _count_deepseek(messages, tokenizer)
    return _count_flat(messages, tokenizer, family)


def _function_of(tool: Mapping[str, object]) -> Mapping[str, object]:
    function = tool.get("function")
    return function if isinstance(function, Mapping) else tool


def _strip_period(text: str) -> str:
    return text[:-1] if text.endswith(".") else text


def _count_openai_tool(tool: Mapping[str, object], tokenizer: Tokenizer) -> int:
    fn = _function_of(tool)
    total = _OPENAI_FUNC_INIT.get(tokenizer.name, _OPENAI_FUNC_INIT_DEFAULT)
    name, description = _as_text(fn.get("name", "")), _as_text(fn.get("description", ""))
    total += tokenizer.count(f"{name}:{_strip_period(description)}")
    parameters = fn.get("parameters")
    if not isinstance(parameters, Mapping):
        return total
    properties = parameters.get("properties")
    if isinstance(properties, Mapping) and properties:
        total += _OPENAI_PROP_INIT
        for key, schema in properties.items():
            total += _OPENAI_PROP_KEY
            spec = schema if isinstance(schema, Mapping) else {}
            enum = spec.get("enum")
            if isinstance(enum, Sequence) and not isinstance(enum, str):
                total += _OPENAI_ENUM_INIT
                for item in enum:
                    total += _OPENAI_ENUM_ITEM + tokenizer.count(_as_text(item))
            p_type = _as_text(spec.get("type", ""))
            p_desc = _strip_period(_as_text(spec.get("description", "")))
            total += tokenizer.count(f"{key}:{p_type}:{p_desc}")
            extra = {k: v for k, v in spec.items() if k not in _OPENAI_MODELED_PROPERTY_KEYS}
            if extra:
                total += tokenizer.count(_json(extra))
    extra_params = {k: v for k, v in parameters.items() if k not in ("type", "properties")}
    extra_params.pop("required", None)  # the cookbook's verified example has it, uncounted
    if extra_params:
        total += tokenizer.count(_json(extra_params))
    return total


def count_tools(tools: Sequence[Mapping[str, object]], tokenizer: Tokenizer, family: str) -> int:
    """Prompt tokens added by ``tools`` (function definitions) in ``family``'s format.

    Zero for no tools. openai: the cookbook rule (see module doc). Others: each tool's JSON
    (compact, one per line) plus the family's tool preamble.
    """
    _check_family(family)
    if not tools:
        return 0
    if family == "openai":
        return _OPENAI_FUNC_END + sum(_count_openai_tool(t, tokenizer) for t in tools)
    schemas = tokenizer.count("\n".join(_json(t) for t in tools))
    if family == "anthropic":
        return _ANTHROPIC_TOOLS_SYSTEM_TOKENS + schemas
    return tokenizer.count(_TOOLS_PREAMBLE_TEXT) + schemas
