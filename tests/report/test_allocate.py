"""Exact allocation: splits and the prompt-cache chargeback conserve totals to the unit and
never go negative (property tests), and the documented rule on a worked example."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tokenomy.report.allocate import Charge, chargeback, split

MINUTE = 60 * 10**9


def test_split_gives_leftover_units_to_the_largest_remainders_ties_first() -> None:
    assert split(10, [1, 1, 1]) == [4, 3, 3]  # equal remainders: the earlier part first
    assert split(100, [1, 2]) == [33, 67]
    assert split(0, [5, 0]) == [0, 0]
    assert split(7, [0, 3]) == [0, 7]


@given(st.integers(0, 10**15), st.lists(st.integers(0, 10**6), min_size=1, max_size=30)
       .filter(lambda w: sum(w) > 0))
def test_split_conserves_and_is_proportional(total: int, weights: list[int]) -> None:
    shares = split(total, weights)
    assert sum(shares) == total
    assert all(s >= 0 for s in shares)
    for share, weight in zip(shares, weights, strict=True):  # within one unit of exact
        assert abs(share * sum(weights) - total * weight) < sum(weights)


def test_a_cache_write_is_charged_to_its_readers_by_cache_read_tokens() -> None:
    """alice writes the cache (its write cost 300), then two reads follow within 5 minutes
    (100 and 200 cached tokens); bob's read is in another scope; a read after the TTL gets
    nothing."""
    charges = [
        Charge("w", "alice|m", 0, 1_000, 300, 0, 5 * MINUTE),
        Charge("r1", "alice|m", MINUTE, 50, 0, 100, 5 * MINUTE),
        Charge("r2", "alice|m", 2 * MINUTE, 80, 0, 200, 5 * MINUTE),
        Charge("other", "bob|m", MINUTE, 40, 0, 500, 5 * MINUTE),
        Charge("late", "alice|m", 6 * MINUTE, 10, 0, 100, 5 * MINUTE),
    ]
    got = {a.id: a.charged for a in chargeback(charges)}
    assert got == {"w": 700, "r1": 150, "r2": 280, "other": 40, "late": 10}
    assert sum(got.values()) == sum(c.cost for c in charges)


def test_an_unread_write_stays_with_its_writer() -> None:
    charges = [Charge("w", "s", 0, 500, 500, 0, MINUTE), Charge("x", "t", 1, 9, 0, 9, MINUTE)]
    assert [a.charged for a in chargeback(charges)] == [500, 9]


@st.composite
def _charges(draw: st.DrawFn) -> list[Charge]:
    count = draw(st.integers(0, 25))
    out = []
    for i in range(count):
        cost = draw(st.integers(0, 10**12))
        out.append(Charge(f"r{i}", draw(st.sampled_from(["a|m", "a|n", "b|m"])),
                          draw(st.integers(0, 20)) * MINUTE, cost,
                          draw(st.integers(0, cost)), draw(st.integers(0, 5_000)),
                          draw(st.sampled_from([5 * MINUTE, 60 * MINUTE]))))
    return out


@given(_charges())
def test_chargeback_conserves_the_total_exactly_and_charges_nothing_negative(
        charges: list[Charge]) -> None:
    allocations = chargeback(charges)
    assert sum(a.charged for a in allocations) == sum(c.cost for c in charges)
    assert all(a.charged >= 0 for a in allocations)
    assert sum(a.cache_write_given for a in allocations) == sum(
        a.cache_write_received for a in allocations)
    assert [a.id for a in allocations] == [c.id for c in charges]
    assert chargeback(list(reversed(charges))) == list(reversed(allocations))  # deterministic
