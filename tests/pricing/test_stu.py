"""The Standard Token Unit: medians of rate ratios, published and applied identically."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tokenomy.meter.usage import Usage
from tokenomy.pricing import PriceBook, load_book, parse_book
from tokenomy.pricing.stu import ALL, StuError, active_context, build_table

AT = datetime(2026, 1, 1, tzinfo=UTC)
THREE = """
provider = "lab"
name = "lab"
[[model]]
id = "a"
quality = "frontier"
  [[model.price]]
  valid_from = "2025-01-01"
  input = "1.00"
  output = "4.00"
  cache_read = "0.10"
  input_audio = "8.00"
[[model]]
id = "b"
quality = "frontier"
  [[model.price]]
  valid_from = "2025-01-01"
  input = "2.00"
  output = "10.00"
[[model]]
id = "c"
quality = "frontier"
  [[model.price]]
  valid_from = "2025-01-01"
  input = "3.00"
  output = "18.00"
  cache_read = "0.75"
"""


def _book(text: str) -> PriceBook:
    book = PriceBook()
    book.add_layer("lab", parse_book(text, "lab.toml"))
    return book


def test_weights_are_medians_of_rate_ratios() -> None:
    """output/input ratios 4, 5, 6 → 5; cache_read 0.1, 1.0 (b falls back to input), 0.25
    → 0.25; audio is priced by `a` only (8) — `b`, `c` do not bill audio."""
    table = build_table(_book(THREE), AT)
    assert table.weight("frontier", "input", "text") == Decimal("1.0000")
    assert table.weight("frontier", "output", "text") == Decimal("5.0000")
    assert table.weight("frontier", "cache_read", "text") == Decimal("0.2500")
    assert table.weight("frontier", "input", "audio") == Decimal("8.0000")
    assert table.models == {"frontier": 3, "standard": 0, "economy": 0, ALL: 3}


def test_conversion_uses_the_published_weights() -> None:
    table = build_table(_book(THREE), AT)
    usage = Usage.build(input={"text": 100, "audio": 10}, cache_read=1_000, output=20)
    assert table.convert(usage, "frontier") == Decimal(100 + 80 + 250 + 100)
    assert table.convert(usage, "standard") == table.convert(usage, ALL)  # falls back to all


def test_a_slot_nobody_prices_has_no_weight() -> None:
    table = build_table(_book(THREE), AT)
    with pytest.raises(StuError, match="video"):
        table.convert(Usage.build(input={"video": 5}), "frontier")


def test_the_version_changes_with_the_prices() -> None:
    one = build_table(_book(THREE), AT)
    two = build_table(_book(THREE.replace('output = "4.00"', 'output = "8.00"')), AT)
    assert one.version != two.version
    assert one.version == build_table(_book(THREE), AT).version


def test_active_context_tokens() -> None:
    assert active_context(Usage.build(input=900, cache_read=9_000, output=100, reasoning=50)) == (
        Decimal("66.00"))
    assert active_context(Usage.build(input=5)) is None


def test_bundled_table_has_a_unit_and_sane_output_weights() -> None:
    table = build_table(load_book(), AT)
    for quality in ("frontier", "standard", "economy", ALL):
        assert table.weight(quality, "input", "text") == 1
        assert Decimal(2) <= table.weight(quality, "output", "text") <= Decimal(10)
        assert table.weight(quality, "cache_read", "text") < 1
