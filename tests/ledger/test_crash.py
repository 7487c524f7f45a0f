"""``kill -9`` a writer mid-stream: every acknowledged batch is there, no batch is half there.

The writer (this file run as a script) streams batches into the store and prints each batch's
number once ``create_transfers`` has returned. Every transfer carries its batch number in
``user_data_64``, so after the kill a batch is either whole or absent.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tokenomy.ledger import Account, Transfer, TransferFlags
from tokenomy.store import open_ledger

PLAIN, PENDING = 60, 20  # per batch; each batch also posts the previous batch's pendings
ACKED_BEFORE_KILL = 12
ACK_SECONDS_MAX = 60
ACCOUNTS = (1, 2, 3, 4)


def batch_of(k: int) -> list[Transfer]:
    """Batch ``k``: plain transfers, new pendings, and posts of batch ``k - 1``'s pendings."""
    base = 1_000_000 * (k + 1)
    plain = [Transfer(base + j, ACCOUNTS[j % 4], ACCOUNTS[(j + 1) % 4], 1 + j, ledger=1,
                      code=1, user_data_64=k) for j in range(PLAIN)]
    pending = [Transfer(base + 500 + j, ACCOUNTS[j % 4], ACCOUNTS[(j + 2) % 4], 7, ledger=1,
                        code=2, flags=TransferFlags.PENDING, user_data_64=k)
               for j in range(PENDING)]
    posts = [Transfer(base + 800 + j, amount=3, pending_id=1_000_000 * k + 500 + j,
                      flags=TransferFlags.POST_PENDING_TRANSFER, user_data_64=k)
             for j in range(PENDING if k > 0 else 0)]
    return plain + pending + posts


def write_forever(url: str) -> None:
    store = open_ledger(url, time.time_ns)
    k = 0
    while True:
        results = store.create_transfers(batch_of(k))
        if set(results) != {"ok"}:
            raise SystemExit(f"batch {k}: {Counter(results)}")
        print(k, flush=True)
        k += 1


def _crash(url: str) -> list[int]:
    """Run a writer, kill -9 it once it has acknowledged some batches; the acked batches."""
    store = open_ledger(url, time.time_ns)
    try:
        assert store.create_accounts([Account(i, 1, 1) for i in ACCOUNTS]) == ["ok"] * 4
    finally:
        store.close()
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, "PYTHONPATH": src}
    writer = subprocess.Popen([sys.executable, __file__, url], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env)
    acked: list[int] = []
    deadline = time.monotonic() + ACK_SECONDS_MAX
    try:
        assert writer.stdout is not None
        while len(acked) < ACKED_BEFORE_KILL and time.monotonic() < deadline:
            line = writer.stdout.readline()
            if not line:
                break
            acked.append(int(line))
        os.kill(writer.pid, signal.SIGKILL)  # mid-batch, most likely
        rest, errors = writer.communicate(timeout=30)
    finally:
        if writer.poll() is None:
            writer.kill()
    acked.extend(int(line) for line in rest.split())
    assert len(acked) >= ACKED_BEFORE_KILL, errors
    assert writer.returncode == -signal.SIGKILL
    return acked


def _check(url: str, acked: list[int]) -> None:
    store = open_ledger(url, time.time_ns)
    try:
        expected = {t.id for k in acked for t in batch_of(k)}
        assert len(store.lookup_transfers(sorted(expected))) == len(expected)
        found = Counter[int]()
        last = max(acked) + 1  # the batch the kill interrupted
        for k in range(last + 1):
            ids = [t.id for t in batch_of(k)]
            found[k] = len(store.lookup_transfers(ids))
            assert found[k] in (0, len(ids)), f"batch {k} is half applied: {found[k]}"
        assert all(found[k] for k in acked)
        assert store.verify() == []
        next_batch = [Transfer(t.id + 9_000_000_000, t.debit_account_id, t.credit_account_id,
                               t.amount, ledger=1, code=1)
                      for t in batch_of(last + 1)[:PLAIN]]
        assert set(store.create_transfers(next_batch)) == {"ok"}  # and it goes on
    finally:
        store.close()


@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
def test_a_killed_writer_loses_no_acknowledged_batch(store: str, tmp_path: Path) -> None:
    if store == "sqlite":
        url = f"sqlite:///{tmp_path / 'crash.db'}"
    else:
        from pg_fixture import cluster

        url = cluster().new_database()
    _check(url, _crash(url))


if __name__ == "__main__":
    write_forever(sys.argv[1])
