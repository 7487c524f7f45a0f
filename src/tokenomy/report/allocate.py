"""Exact allocation of integer money: proportional splits and the prompt-cache chargeback.

In: integer amounts (nano-USD) and non-negative integer weights. Out: integer shares that sum
to the amount exactly. Pure: no I/O, no clock, no floats.

**Split rule** (largest remainder, Hamilton): each part gets ``floor(total × w / W)``; the
units left over go one each to the parts with the largest remainders ``total × w mod W``, ties
to the earlier part. Deterministic, exact, never negative.

**Cache-write chargeback.** A prompt-cache write is paid by the request that wrote it, but it
serves the requests that read it afterwards. Within one *scope* (the caller's key and the
model: a provider's prompt cache is per caller and per model), a request that reads from the
cache (``cache_read_tokens > 0``) is attributed to the most recent earlier write of its scope
that is still alive (``write.at < read.at ≤ write.at + ttl``; order is ``(at, id)``). Each
write's cost moves from its writer to its readers, split by their cache-read tokens with the
rule above. A write that nobody read stays with its writer. Every other cost stays where it is.
So the charged total equals the billed total exactly, and no charge is negative (a writer
gives away at most its own cache-write cost, which is part of its cost).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from tokenomy._invariant import invariant

CHARGES_MAX = 5_000_000  # requests one chargeback may allocate


def split(total: int, weights: Sequence[int]) -> list[int]:
    """``total`` (≥ 0) in parts proportional to ``weights`` (≥ 0, not all 0), exactly."""
    invariant(total >= 0, f"cannot split a negative total {total}")
    invariant(all(w >= 0 for w in weights), "weights must be non-negative")
    weight_sum = sum(weights)
    invariant(weight_sum > 0, "at least one weight must be positive")
    shares: list[int] = []
    remainders: list[tuple[int, int]] = []
    for index, weight in enumerate(weights):
        share, remainder = divmod(total * weight, weight_sum)
        shares.append(share)
        remainders.append((-remainder, index))
    left = total - sum(shares)
    invariant(0 <= left < max(len(weights), 1), "the floors leave fewer units than parts")
    for _, index in sorted(remainders)[:left]:
        shares[index] += 1
    invariant(sum(shares) == total, "a split conserves its total")
    return shares


@dataclass(frozen=True, slots=True)
class Charge:
    """One billed request, as the chargeback sees it."""

    id: str
    scope: str  # the prompt cache's scope: key and model
    at: int  # ns
    cost: int  # billed, nano-USD (≥ 0)
    cache_write_cost: int  # the part of ``cost`` that wrote the prompt cache (0 ≤ … ≤ cost)
    cache_read_tokens: int
    ttl_ns: int  # how long the written cache lives


@dataclass(frozen=True, slots=True)
class Allocation:
    """A request's charge after the chargeback, and what moved in and out of it."""

    id: str
    charged: int
    cache_write_given: int  # its own cache-write cost moved to its readers
    cache_write_received: int  # shares of others' (or its own earlier) writes


def _check(charges: Sequence[Charge]) -> None:
    invariant(len(charges) <= CHARGES_MAX, f"at most {CHARGES_MAX} charges")
    invariant(len({c.id for c in charges}) == len(charges), "charge ids are unique")
    for c in charges:
        invariant(0 <= c.cache_write_cost <= c.cost, f"{c.id}: cache-write cost outside cost")
        invariant(c.cache_read_tokens >= 0 and c.ttl_ns >= 0, f"{c.id}: negative count")


def _readers_by_write(charges: Iterable[Charge]) -> dict[str, list[Charge]]:
    """Each write's readers: the reads whose most recent live write in their scope it is."""
    readers: dict[str, list[Charge]] = {}
    latest: dict[str, Charge] = {}  # scope → its most recent write so far
    for c in sorted(charges, key=lambda c: (c.at, c.id)):
        write = latest.get(c.scope)
        if c.cache_read_tokens > 0 and write is not None and c.at <= write.at + write.ttl_ns:
            readers.setdefault(write.id, []).append(c)
        if c.cache_write_cost > 0:
            latest[c.scope] = c
    return readers


def chargeback(charges: Sequence[Charge]) -> list[Allocation]:
    """Every charge after moving each cache write's cost to its readers (module docstring),
    in the order given; the charged total equals the billed total exactly."""
    _check(charges)
    given = dict.fromkeys((c.id for c in charges), 0)
    received = dict.fromkeys((c.id for c in charges), 0)
    by_id = {c.id: c for c in charges}
    for write_id, readers in _readers_by_write(charges).items():
        write = by_id[write_id]
        shares = split(write.cache_write_cost, [r.cache_read_tokens for r in readers])
        given[write_id] += write.cache_write_cost
        for reader, share in zip(readers, shares, strict=True):
            received[reader.id] += share
    out = [Allocation(c.id, c.cost - given[c.id] + received[c.id], given[c.id], received[c.id])
           for c in charges]
    invariant(sum(a.charged for a in out) == sum(c.cost for c in charges),
              "the chargeback conserves the billed total")
    invariant(all(a.charged >= 0 for a in out), "no charge is negative")
    return out


__all__ = ["CHARGES_MAX", "Allocation", "Charge", "chargeback", "split"]
