"""`tokenomy serve` on PostgreSQL: TOKENOMY_DATABASE_URL=postgresql://… is all it takes."""

from __future__ import annotations

from pathlib import Path

import httpx

from pg_fixture import cluster
from serving import serve


def test_the_server_runs_on_postgresql(tmp_path: Path) -> None:
    url = cluster().new_database()
    with serve(tmp_path, url) as base:
        health = httpx.get(f"{base}/healthz").json()
        assert health["status"] == "ok" and health["store"] == "postgresql"
        assert health["schema_version"] >= 1
        accounts = httpx.post(f"{base}/api/ledger/accounts", json=[
            {"id": "1", "ledger": 1, "code": 10},
            {"id": "2", "ledger": 1, "code": 10, "flags": ["debits_must_not_exceed_credits"]},
        ]).json()
        assert [a["result"] for a in accounts] == ["ok", "ok"]
        transfers = httpx.post(f"{base}/api/ledger/transfers", json=[
            {"id": "10", "debit_account_id": "1", "credit_account_id": "2", "amount": 100,
             "ledger": 1, "code": 1},
            {"id": "11", "debit_account_id": "2", "credit_account_id": "1", "amount": 101,
             "ledger": 1, "code": 2},
        ]).json()
        assert [t["result"] for t in transfers] == ["ok", "exceeds_credits"]
        account = httpx.get(f"{base}/api/ledger/accounts/2").json()
        assert account["credits_posted"] == "100" and account["debits_posted"] == "0"
        assert httpx.get(f"{base}/api/ledger/verify").json()["violations"] == []
