"""The SQLite ledger's WAL: its sync for a writer that takes the fsync off its commits, and the
background checkpoints: commits stop paying for them, and the data they copy is the data
committed."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from tokenomy.ledger.budgets import LEDGER_USD, set_budget
from tokenomy.ledger.charges import levels, reserve_transfers, resolve_transfers
from tokenomy.ledger.types import CreateTransferResult
from tokenomy.store import ledger_sqlite
from tokenomy.store.ledger_sqlite import FALLBACK_CHECKPOINT_PAGES, SQLiteLedger

R = CreateTransferResult


def _grows(path: Path, size: int) -> bool:
    """Whether the database file (not its WAL) grows past ``size`` within 5 s."""
    deadline = time.monotonic() + 5
    while path.stat().st_size <= size and time.monotonic() < deadline:
        time.sleep(0.02)
    return path.stat().st_size > size


def test_a_background_checkpointer_copies_the_wal_and_stops_with_the_store(
        tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    store = SQLiteLedger.open(str(path), time.time_ns)
    set_budget(store, "org", 10_000, LEDGER_USD, at=time.time_ns())
    chain = levels(store, "org")
    store.checkpoint_in_background(interval_s=0.01)
    assert store.connection.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == (
        FALLBACK_CHECKPOINT_PAGES)  # the committing connection leaves them to the thread
    time.sleep(0.1)  # what the setup wrote is copied
    size = path.stat().st_size
    for i in range(50):
        held = store.commit_batch(reserve_transfers(chain, 10, f"r{i}"), durable=False)
        done = store.commit_batch(resolve_transfers(chain, f"r{i}", 7, "capture"))
        assert held == done == [R.OK]
    assert _grows(path, size)  # no commit checkpointed (far below the fallback): the thread
    store.close()
    assert "tokenomy-wal-checkpoint" not in [t.name for t in threading.enumerate()]
    reopened = SQLiteLedger.open(str(path), time.time_ns)
    assert reopened.lookup_accounts([chain[0].account_id])[0].debits_posted == 50 * 7
    assert reopened.verify() == []
    reopened.close()


def test_sync_wal_fdatasyncs_the_wal_file_from_any_thread(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A commit that skipped its fsync (``durable=False``) is made durable by one real
    ``fdatasync`` of the ``-wal`` file, on a descriptor of the store's own (not the
    connection), so a thread may sync while the loop commits."""
    synced: list[str] = []
    real = ledger_sqlite._datasync

    def datasync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(ledger_sqlite, "_datasync", datasync)
    path = tmp_path / "s.db"
    store = SQLiteLedger.open(str(path), time.time_ns)
    assert store.wal
    set_budget(store, "org", 1_000, LEDGER_USD, at=time.time_ns())
    chain = levels(store, "org")
    assert store.commit_batch(reserve_transfers(chain, 10, "a"), durable=False) == [R.OK]
    worker = threading.Thread(target=store.sync_wal)
    worker.start()
    assert store.commit_batch(reserve_transfers(chain, 10, "b"), durable=False) == [R.OK]
    worker.join()
    store.sync_wal()
    assert synced == [f"{path}-wal"] * 2
    store.close()
    memory = SQLiteLedger.open(":memory:", time.time_ns)
    assert not memory.wal  # nothing to sync: the gateway then syncs as it commits
    memory.close()
