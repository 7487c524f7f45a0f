"""Canonical usage: exclusive classes that add up, exact JSON round trips."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tokenomy.meter import Modality, ModalityCounts, TokenClass, Usage, UsageError

counts = st.integers(min_value=0, max_value=10**12)
modality_counts = st.builds(ModalityCounts, counts, counts, counts, counts, counts)
usages = st.builds(
    lambda i, cr, cw, o, r, est: Usage.build(i, cr, cw, o, r, estimated=est),
    modality_counts, modality_counts, modality_counts, modality_counts, modality_counts,
    st.booleans(),
)


def test_totals_follow_the_class_definitions() -> None:
    """input 100, cached 900, written 50 (5m), output 40 of which reasoning is separate 60."""
    usage = Usage.build(100, 900, 50, 40, 60, cache_write_ttl={"5m": 50})
    assert usage.total_input == 100 + 900 + 50
    assert usage.total_output == 40 + 60
    assert usage.total == 1150
    assert usage.ttl("5m") == 50 and usage.ttl("1h") == 0


def test_modalities_are_kept_apart() -> None:
    usage = Usage.build({"text": 10, "audio": 20}, output={"audio": 5, "text": 1})
    assert usage.tokens(TokenClass.INPUT, Modality.AUDIO) == 20
    assert usage.input.total == 30
    assert usage.output == ModalityCounts(text=1, audio=5)
    assert usage.by_modality()["audio"] == {
        "input": 20, "cache_read": 0, "cache_write": 0, "output": 5, "reasoning": 0,
    }


@pytest.mark.parametrize("bad", [-1, 1.0, True, "3", None])
def test_counts_must_be_non_negative_integers(bad: object) -> None:
    with pytest.raises(UsageError):
        Usage.build(input=bad)  # type: ignore[arg-type]


def test_a_negative_count_in_the_flat_form_names_its_place() -> None:
    counts = [0] * 25
    counts[16] = -3  # output.image
    with pytest.raises(UsageError, match=r"output\.image"):
        Usage(tuple(counts))


def test_ttl_split_cannot_exceed_the_cache_writes() -> None:
    with pytest.raises(UsageError, match="cache_write_ttl"):
        Usage.build(cache_write=10, cache_write_ttl={"5m": 6, "1h": 5})


def test_unknown_modality_and_class_are_errors() -> None:
    with pytest.raises(UsageError, match="smell"):
        Usage.build(input={"smell": 1})
    with pytest.raises(UsageError, match=r"tokens\.thoughts"):
        Usage.from_json({"tokens": {"thoughts": 1}})


def test_from_json_checks_tokens_against_by_modality() -> None:
    data = Usage.build({"text": 3, "image": 4}).to_json()
    data["tokens"]["input"] = 8
    with pytest.raises(UsageError, match=r"tokens\.input"):
        Usage.from_json(data)


@given(usages)
def test_json_round_trip_is_exact(usage: Usage) -> None:
    assert Usage.from_json(usage.to_json()) == usage


@given(usages, st.sampled_from([(), (("5m", 0),), (("1h", 0), ("5m", 0))]),
       st.sampled_from([(), (("web_search_calls", 3),), (("a\"b", 1), ("z", 0))]))
def test_json_text_is_the_compact_dump_of_to_json(usage: Usage, ttl: tuple[tuple[str, int], ...],
                                                  extras: tuple[tuple[str, int], ...]) -> None:
    usage = Usage(usage.counts, ttl, extras, usage.estimated)
    assert usage.to_json_text() == json.dumps(usage.to_json(), separators=(",", ":"))


@given(usages, usages)
def test_addition_adds_every_class_and_modality(a: Usage, b: Usage) -> None:
    total = a + b
    for cls in TokenClass:
        for modality in Modality:
            assert total.tokens(cls, modality) == a.tokens(cls, modality) + b.tokens(
                cls, modality
            )
    assert total.total == a.total + b.total
    assert total.estimated == (a.estimated or b.estimated)


@given(usages)
def test_totals_reconcile(usage: Usage) -> None:
    assert usage.total_input == sum(usage.tokens(c) for c in ("input", "cache_read",
                                                               "cache_write"))
    assert usage.total_output == usage.tokens("output") + usage.tokens("reasoning")
    j = usage.to_json()
    assert j["total_input_tokens"] + j["total_output_tokens"] == usage.total
