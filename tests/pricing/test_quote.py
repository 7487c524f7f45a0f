"""Hand-computed costs for every provider family and the hard cases.

Every expected amount below is worked out by hand from the bundled book's rates (USD per 1M
tokens) and written in nano-dollars: ``tokens × rate × 1000``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tokenomy.meter.normalize import normalize
from tokenomy.meter.usage import Usage
from tokenomy.pricing import HOLD, PriceBook, UnpricedError, load_book, parse_book, quote

NOW = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def book() -> PriceBook:
    return load_book()


def nano(*terms: tuple[int, str]) -> int:
    """Σ tokens × rate-per-million, in nano-USD (exact)."""
    total = sum(Decimal(tokens) * Decimal(rate) * 1000 for tokens, rate in terms)
    assert total == total.to_integral_value()
    return int(total)


def test_anthropic_5m_and_1h_cache_writes_and_reads(book: PriceBook) -> None:
    """claude-sonnet-4-5: in 3.00, 5m write 3.75, 1h write 6.00, read 0.30, out 15.00."""
    usage = normalize("anthropic", "messages", {
        "input_tokens": 20, "cache_read_input_tokens": 5000, "output_tokens": 400,
        "cache_creation_input_tokens": 1000,
        "cache_creation": {"ephemeral_5m_input_tokens": 400, "ephemeral_1h_input_tokens": 600},
    })
    q = quote(book, usage, "claude-sonnet-4-5", NOW)
    assert q.total == nano((20, "3.00"), (5000, "0.30"), (400, "15.00"), (400, "3.75"),
                           (600, "6.00")) == 12_660_000
    by_ttl = {line.ttl: line.rate.per_mtok for line in q.lines if line.cls == "cache_write"}
    assert by_ttl == {"5m": Decimal("3.75"), "1h": Decimal("6.00")}


def test_sonnet_above_200k_bills_the_whole_request_at_the_long_context_tier(
    book: PriceBook,
) -> None:
    """Total input 150K + 60K cached = 210K > 200K: input 6.00, read 0.60, out 22.50."""
    usage = Usage.build(input=150_000, cache_read=60_000, output=1_000)
    q = quote(book, usage, "claude-sonnet-4-5", NOW)
    assert q.tier_rule == "total input > 200,000"
    assert q.total == nano((150_000, "6.00"), (60_000, "0.60"), (1_000, "22.50"))
    at_threshold = quote(book, Usage.build(input=200_000, output=1_000), "claude-sonnet-4-5", NOW)
    assert at_threshold.tier_rule == ""  # strictly greater than 200K
    assert at_threshold.total == nano((200_000, "3.00"), (1_000, "15.00"))


def test_gemini_25_pro_above_200k_and_thoughts_billed_as_output(book: PriceBook) -> None:
    usage = normalize("google", "generate_content", {
        "promptTokenCount": 250_000, "cachedContentTokenCount": 50_000,
        "candidatesTokenCount": 2_000, "thoughtsTokenCount": 1_000,
    })
    q = quote(book, usage, "gemini-2.5-pro", NOW)
    assert q.total == nano((200_000, "2.50"), (50_000, "0.25"), (2_000, "15.00"),
                           (1_000, "15.00"))
    small = normalize("google", "generate_content", {
        "promptTokenCount": 1_000, "candidatesTokenCount": 100, "thoughtsTokenCount": 900})
    assert quote(book, small, "gemini-2.5-pro", NOW).total == nano(
        (1_000, "1.25"), (100, "10.00"), (900, "10.00"))


def test_audio_input_has_its_own_rate(book: PriceBook) -> None:
    """gemini-2.5-flash: text 0.30, audio 1.00 — audio is never priced as text."""
    usage = normalize("google", "generate_content", {
        "promptTokenCount": 1_100, "candidatesTokenCount": 50,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 100},
                                {"modality": "AUDIO", "tokenCount": 1_000}],
    })
    q = quote(book, usage, "gemini-2.5-flash", NOW)
    assert q.total == nano((100, "0.30"), (1_000, "1.00"), (50, "2.50"))
    openai_audio = Usage.build(input={"text": 10, "audio": 300}, output={"audio": 200})
    assert quote(book, openai_audio, "gpt-4o-audio-preview", NOW).total == nano(
        (10, "2.50"), (300, "40.00"), (200, "80.00"))


def test_audio_without_an_audio_rate_is_unpriced_not_text(book: PriceBook) -> None:
    usage = Usage.build(input={"audio": 100})
    with pytest.raises(UnpricedError, match="audio"):
        quote(book, usage, "claude-sonnet-4-5", NOW)


def test_deepseek_cache_hit_and_miss(book: PriceBook) -> None:
    """V3.2: miss 0.28, hit 0.028 (the seed's $0.028), output 0.42."""
    usage = normalize("deepseek", "chat", {
        "prompt_tokens": 10_000, "prompt_cache_hit_tokens": 8_000,
        "prompt_cache_miss_tokens": 2_000, "completion_tokens": 500})
    q = quote(book, usage, "deepseek-chat", NOW)
    assert q.total == nano((2_000, "0.28"), (8_000, "0.028"), (500, "0.42")) == 994_000


def test_openai_batch_and_flex(book: PriceBook) -> None:
    usage = Usage.build(input=1_000, cache_read=1_000, output=1_000)
    standard = quote(book, usage, "o3", NOW)
    assert standard.total == nano((1_000, "2.00"), (1_000, "0.50"), (1_000, "8.00"))
    for tier in ("batch", "flex"):
        assert quote(book, usage, "o3", NOW, tier).total * 2 == standard.total
    with pytest.raises(UnpricedError, match="flex"):
        quote(book, usage, "gpt-4o", NOW, "flex")


def test_a_price_change_is_priced_by_the_instant(book: PriceBook) -> None:
    """gpt-4o launched at 5.00/15.00 (2024-05-13), then 2.50/10.00 from 2024-10-02."""
    usage = Usage.build(input=1_000, output=500)
    before = quote(book, usage, "gpt-4o", datetime(2024, 6, 1, tzinfo=UTC))
    after = quote(book, usage, "gpt-4o", datetime(2024, 10, 2, tzinfo=UTC))
    assert before.total == nano((1_000, "5.00"), (500, "15.00")) == 12_500_000
    assert after.total == nano((1_000, "2.50"), (500, "10.00")) == 7_500_000
    assert before.version == "openai/gpt-4o@2024-05-13"
    assert after.version == "openai/gpt-4o@2024-10-02"
    with pytest.raises(UnpricedError, match="no price in force"):
        quote(book, usage, "gpt-4o", datetime(2024, 1, 1, tzinfo=UTC))


def test_aliases_and_snapshots_resolve_to_the_model(book: PriceBook) -> None:
    usage = Usage.build(input=1_000)
    snapshot = quote(book, usage, "claude-sonnet-4-5-20250929", NOW)
    assert snapshot.model == "claude-sonnet-4-5-20250929"
    assert snapshot.version.startswith("anthropic/claude-sonnet-4-5@")


def test_qwen_tiers_by_request_input(book: PriceBook) -> None:
    """qwen3-max: [0,32K] 1.20/6.00, (32K,128K] 2.40/12.00, (128K,…] 3.00/15.00."""
    small = quote(book, Usage.build(input=32_000, output=100), "qwen3-max", NOW)
    middle = quote(book, Usage.build(input=32_001, output=100), "qwen3-max", NOW)
    large = quote(book, Usage.build(input=200_000, output=100), "qwen3-max", NOW)
    assert small.total == nano((32_000, "1.20"), (100, "6.00"))
    assert middle.total == nano((32_001, "2.40"), (100, "12.00"))
    assert large.total == nano((200_000, "3.00"), (100, "15.00"))


def test_qwen_thinking_mode_bills_all_output_at_the_thinking_rate(book: PriceBook) -> None:
    """qwen-turbo: output 0.20, thinking 0.50; a request that reasoned pays 0.50 for both."""
    thinking = Usage.build(input=1_000, output=100, reasoning=400)
    plain = Usage.build(input=1_000, output=100)
    assert quote(book, thinking, "qwen-turbo", NOW).total == nano(
        (1_000, "0.05"), (100, "0.50"), (400, "0.50"))
    assert quote(book, plain, "qwen-turbo", NOW).total == nano((1_000, "0.05"), (100, "0.20"))


def test_fees_per_search_and_unpriced_counters(book: PriceBook) -> None:
    usage = Usage.build(input=1_000, output=100, extras={"web_search_requests": 3})
    q = quote(book, usage, "gemini-2.5-flash", NOW)
    assert q.total == nano((1_000, "0.30"), (100, "2.50")) + 3 * 35_000_000
    fee = [line for line in q.lines if line.cls == "fee"]
    assert fee[0].modality == "web_search_requests" and fee[0].tokens == 3
    sources = Usage.build(input=10, extras={"search_sources": 2})
    with pytest.raises(UnpricedError, match="search_sources"):
        quote(book, sources, "gemini-2.5-flash", NOW)


def test_unknown_model_is_blocked_or_held_never_free(book: PriceBook) -> None:
    usage = Usage.build(input=1_000, output=1_000)
    with pytest.raises(UnpricedError, match="gpt-9"):
        quote(book, usage, "gpt-9", NOW)
    held = quote(book, usage, "gpt-9", NOW, policy=HOLD)
    assert held.provisional and held.version == "provisional"
    assert held.total == nano((1_000, "15.00"), (1_000, "75.00"))
    partial = quote(book, Usage.build(input={"audio": 100}), "claude-haiku-4-5", NOW, policy=HOLD)
    assert partial.provisional and partial.lines[0].provisional
    assert partial.total > 0


def test_each_line_is_rounded_half_even_and_the_total_is_their_sum() -> None:
    """A rate of 0.0005 per 1M tokens is 0.5 nano-USD per token, 0.0015 is 1.5."""
    text = """
provider = "acme"
name = "acme"
[[model]]
id = "tiny"
  [[model.price]]
  valid_from = "2020-01-01"
  input = "0.0005"
  output = "0.0015"
"""
    tiny = PriceBook()
    tiny.add_layer("acme", parse_book(text, "acme.toml"))
    for tokens, expected in ((1, 0), (3, 2), (5, 2), (7, 4), (1_000, 500)):  # 0.5→0, 1.5→2 …
        assert quote(tiny, Usage.build(input=tokens), "tiny", NOW).total == expected
    mixed = quote(tiny, Usage.build(input=1, output=1), "tiny", NOW)
    assert [line.amount for line in mixed.lines] == [0, 2]  # 0.5 → 0 and 1.5 → 2, per line
    assert mixed.total == 2  # not round(0.5 + 1.5) computed once


def test_user_book_discount_is_relative_to_the_layer_below() -> None:
    text = """
provider = "openai"
name = "negotiated"
[[model]]
id = "gpt-4o"
  [[model.price]]
  valid_from = "2025-01-01"
  multiplier = "0.8"
"""
    book = load_book({"negotiated.toml": text})
    usage = Usage.build(input=1_000_000, output=1_000_000)
    q = quote(book, usage, "gpt-4o", NOW)
    assert q.total == nano((1_000_000, "2.00"), (1_000_000, "8.00"))
    assert q.version == "negotiated/gpt-4o@2025-01-01(openai/gpt-4o@2024-10-02)"
    before = quote(book, usage, "gpt-4o", datetime(2024, 6, 1, tzinfo=UTC))
    assert before.version == "openai/gpt-4o@2024-05-13"  # the discount starts in 2025


def test_moonshot_minimax_and_xai(book: PriceBook) -> None:
    """kimi-k2-0905: in 0.60, cache hit 0.15, out 2.50 (cached_tokens inside prompt_tokens);
    MiniMax-M2: in 0.30, read 0.03, write 0.375, out 1.20 (Anthropic-compatible usage);
    grok-4: in 3.00, read 0.75, out 15.00; ≥ 128K input: 6.00 / 30.00 (xAI's tier is
    inclusive), reasoning outside completion_tokens when total_tokens says so."""
    kimi = normalize("moonshot", "chat", {
        "prompt_tokens": 10_000, "completion_tokens": 1_000, "total_tokens": 11_000,
        "cached_tokens": 6_000})
    assert quote(book, kimi, "kimi-k2-0905-preview", NOW).total == nano(
        (4_000, "0.60"), (6_000, "0.15"), (1_000, "2.50"))
    minimax = normalize("minimax", "messages", {
        "input_tokens": 100, "cache_creation_input_tokens": 2_000,
        "cache_read_input_tokens": 8_000, "output_tokens": 500})
    assert quote(book, minimax, "MiniMax-M2", NOW).total == nano(
        (100, "0.30"), (2_000, "0.375"), (8_000, "0.03"), (500, "1.20"))
    grok = normalize("xai", "chat", {
        "prompt_tokens": 1_000, "completion_tokens": 200, "total_tokens": 1_500,
        "completion_tokens_details": {"reasoning_tokens": 300}})
    assert grok.reasoning.text == 300 and grok.output.text == 200
    assert quote(book, grok, "grok-4", NOW).total == nano(
        (1_000, "3.00"), (200, "15.00"), (300, "15.00"))
    at_threshold = quote(book, Usage.build(input=128_000, output=10), "grok-4", NOW)
    assert at_threshold.total == nano((128_000, "6.00"), (10, "30.00"))
