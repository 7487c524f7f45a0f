"""Reading price books: every problem reported with its place, nothing half-loaded."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tokenomy.meter.usage import Usage
from tokenomy.pricing import BookError, PriceBook, bundled_entries, load_book, parse_book, quote

GOOD = """
provider = "selfhost"
country = "CN"
name = "ours"
source = "https://example.invalid/ops"

[[model]]
id = "llama-4-70b"
aliases = ["llama-4-70b-instruct"]
quality = "standard"

  [[model.price]]
  valid_from = 2025-01-01
  input = "0.20"
  output = "0.60"
  batch = { multiplier = "0.5", input = "0.05" }

    [[model.price.above]]
    input_tokens = 100000
    inclusive = true
    input = "0.40"

  [[model.price]]
  valid_from = "2025-07-01T00:00:00Z"
  input = "0.10"
  output = "0.30"
  fees = { request = "0.0001" }
"""


def test_a_good_book_loads_with_versions_periods_and_tiers() -> None:
    entries = parse_book(GOOD, "ours.toml")
    first, second = entries
    assert first.version == "ours/llama-4-70b@2025-01-01T00:00:00+00:00"
    assert second.version == "ours/llama-4-70b@2025-07-01T00:00:00Z"
    assert first.valid_to == second.valid_from  # a period ends where the next begins
    assert first.country == "CN" and first.source == "https://example.invalid/ops"
    book = PriceBook()
    book.add_layer("ours", entries)
    at = datetime(2025, 3, 1, tzinfo=UTC)
    assert quote(book, Usage.build(input=100_000), "llama-4-70b-instruct", at).total == (
        100_000 * 400)  # inclusive tier: exactly 100K is already "above"
    batch = quote(book, Usage.build(input=1_000, output=1_000), "llama-4-70b", at, "batch")
    assert batch.total == 1_000 * 50 + 1_000 * 300  # explicit input, output × 0.5
    later = quote(book, Usage.build(input=1_000), "llama-4-70b", datetime(2025, 8, 1, tzinfo=UTC))
    assert later.total == 1_000 * 100 + 100_000  # + the per-request fee of $0.0001


def test_every_problem_is_reported_at_once_with_its_place() -> None:
    bad = """
provider = "x"
colour = "blue"
[[model]]
id = "m"
quality = "legendary"
  [[model.price]]
  valid_from = "2025-13-01"
  input = 2.5
  output = "-1"
  cache_red = "0.1"
  [[model.price]]
  valid_from = "2024-01-01"
  input = "1"
"""
    with pytest.raises(BookError) as caught:
        parse_book(bad, "bad.toml")
    problems = "\n".join(caught.value.problems)
    for expected in ("file.colour", "m.quality", "valid_from: not an ISO", "m price[0].input",
                     "m price[0].output", "cache_red", "needs `input` and `output`"):
        assert expected in problems, (expected, problems)
    assert str(caught.value).startswith("bad.toml: ")


def test_floats_are_refused_even_when_exact() -> None:
    with pytest.raises(BookError, match=r'decimal string like "2\.50"'):
        parse_book('provider="x"\n[[model]]\nid="m"\n[[model.price]]\n'
                   'valid_from="2025-01-01"\ninput=0.5\noutput="1"\n', "f.toml")


def test_history_must_move_forward_and_ids_must_be_unique() -> None:
    text = """
provider = "x"
[[model]]
id = "a"
aliases = ["b"]
  [[model.price]]
  valid_from = "2025-02-01"
  input = "1"
  output = "1"
  [[model.price]]
  valid_from = "2025-01-01"
  input = "1"
  output = "1"
[[model]]
id = "b"
  [[model.price]]
  valid_from = "2025-01-01"
  input = "1"
  output = "1"
"""
    with pytest.raises(BookError) as caught:
        parse_book(text, "t.toml")
    problems = " | ".join(caught.value.problems)
    assert "later than the previous" in problems and "declared by both" in problems


def test_not_toml_is_a_book_error() -> None:
    with pytest.raises(BookError, match="not valid TOML"):
        parse_book("provider = ", "broken.toml")


def test_bundled_catalog_covers_the_issue() -> None:
    entries = bundled_entries()
    models = {e.model for e in entries}
    providers = {e.provider for e in entries}
    assert len(models) >= 60
    assert providers >= {"openai", "anthropic", "google", "deepseek", "qwen", "moonshot",
                         "minimax", "xai"}
    assert all(e.source.startswith("http") for e in entries)
    assert {e.country for e in entries} == {"US", "CN"}


def test_a_user_book_overrides_only_during_its_validity() -> None:
    override = """
provider = "anthropic"
name = "deal"
[[model]]
id = "claude-haiku-4-5"
  [[model.price]]
  valid_from = "2026-01-01"
  valid_to = "2026-02-01"
  input = "0.50"
  output = "2.50"
"""
    book = load_book({"deal.toml": override})
    usage = Usage.build(input=1_000_000)
    inside = quote(book, usage, "claude-haiku-4-5", datetime(2026, 1, 15, tzinfo=UTC))
    outside = quote(book, usage, "claude-haiku-4-5", datetime(2026, 3, 1, tzinfo=UTC))
    assert inside.total == 500_000_000 and inside.version.startswith("deal/")
    assert outside.total == 1_000_000_000 and outside.version.startswith("anthropic/")
