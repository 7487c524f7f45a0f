"""``tokenomy ledger …`` and ``tokenomy budget …`` as a user types them: each a real
subprocess on a SQLite file in ``tmp_path``.

    account 1  ledger 1  code 7                                   (an operator: unlimited)
    account 2  ledger 1  code 7  debits_must_not_exceed_credits   (a customer)
    transfer 10: 1 → 2  500      ok
    transfer 11: 2 → 1  900      exceeds_credits (2 holds only 500)
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess
from typing import Any

import pytest

from tokenomy.ledger.types import BATCH_MAX

Cli = Callable[..., CompletedProcess[str]]


def _no_float(text: str) -> Any:
    raise AssertionError(f"a JSON number with a fraction is on the wire: {text}")


def _lines(stdout: str) -> list[Any]:
    return [json.loads(line, parse_float=_no_float) for line in stdout.splitlines()]


def _jsonl(*items: dict[str, Any]) -> str:
    return "".join(json.dumps(i) + "\n" for i in items)


def _run(cli: Cli, tmp_path: Path, args: list[str], stdin: str | None = None,
         ) -> CompletedProcess[str]:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    result: CompletedProcess[str] = cli([*args, "--database-url", url], stdin=stdin,
                                        cwd=tmp_path)
    return result


OPERATOR = {"id": "1", "ledger": 1, "code": 7}
CUSTOMER = {"id": 2, "ledger": 1, "code": 7, "flags": ["debits_must_not_exceed_credits"]}
FUND = {"id": "10", "debit_account_id": "1", "credit_account_id": "2", "amount": "500",
        "ledger": 1, "code": 1}
OVERDRAW = {"id": "11", "debit_account_id": "2", "credit_account_id": "1", "amount": 900,
            "ledger": 1, "code": 1}


def _accounts(cli: Cli, tmp_path: Path) -> None:
    created = _run(cli, tmp_path, ["ledger", "accounts", "create"], _jsonl(OPERATOR, CUSTOMER))
    assert created.returncode == 0, created.stderr
    assert _lines(created.stdout) == [{"id": "1", "result": "ok"}, {"id": "2", "result": "ok"}]


def _state(cli: Cli, tmp_path: Path) -> Any:
    listed = _run(cli, tmp_path, ["ledger", "accounts", "list", "--json"])
    assert listed.returncode == 0, listed.stderr
    return json.loads(listed.stdout)


def test_accounts_transfers_balance_and_verify(cli: Cli, tmp_path: Path) -> None:
    _accounts(cli, tmp_path)
    again = _run(cli, tmp_path, ["ledger", "accounts", "create"],
                 json.dumps([OPERATOR, {**CUSTOMER, "code": 8}]))  # one JSON list
    assert again.returncode == 1
    assert _lines(again.stdout) == [{"id": "1", "result": "exists"},
                                    {"id": "2", "result": "exists_with_different_code"}]
    moved = _run(cli, tmp_path, ["ledger", "transfer"], _jsonl(FUND, OVERDRAW))
    assert moved.returncode == 1 and "1 of 2" in moved.stderr
    assert _lines(moved.stdout) == [{"id": "10", "result": "ok"},
                                    {"id": "11", "result": "exceeds_credits"}]
    replay = _run(cli, tmp_path, ["ledger", "transfer"], _jsonl(FUND))
    assert replay.returncode == 0 and _lines(replay.stdout) == [{"id": "10", "result": "exists"}]
    shown = _run(cli, tmp_path, ["ledger", "balance", "2", "--json"])
    assert shown.returncode == 0, shown.stderr
    body = _lines(shown.stdout)[0]
    assert (body["credits_posted"], body["debits_posted"]) == ("500", "0")
    assert body["flags"] == ["debits_must_not_exceed_credits"]
    table = _run(cli, tmp_path, ["ledger", "balance", "2"])
    assert "credits_posted" in table.stdout and "500" in table.stdout
    listed = _state(cli, tmp_path)
    assert [a["id"] for a in listed["accounts"]] == ["1", "2"]
    assert _run(cli, tmp_path, ["ledger", "accounts", "list", "--ledger", "2", "--json"]
                ).stdout.strip() == '{"accounts": []}'
    verified = _run(cli, tmp_path, ["ledger", "verify", "--json"])
    assert verified.returncode == 0 and json.loads(verified.stdout) == {"ok": True,
                                                                         "violations": []}
    missing = _run(cli, tmp_path, ["ledger", "balance", "99"])
    assert missing.returncode == 2 and "no account 99" in missing.stderr


def test_two_phase_over_the_cli(cli: Cli, tmp_path: Path) -> None:
    _accounts(cli, tmp_path)
    _run(cli, tmp_path, ["ledger", "transfer"], _jsonl(FUND))
    hold = {**FUND, "id": "20", "debit_account_id": "2", "credit_account_id": "1",
            "amount": "300", "flags": ["pending"], "timeout": 3600}
    post = {"id": "21", "pending_id": "20", "flags": ["post_pending_transfer"]}  # full amount
    result = _run(cli, tmp_path, ["ledger", "transfer"], _jsonl(hold, post))
    assert result.returncode == 0, result.stdout
    body = _lines(_run(cli, tmp_path, ["ledger", "balance", "2", "--json"]).stdout)[0]
    assert (body["debits_pending"], body["debits_posted"]) == ("0", "300")


def test_bad_input_exits_2_and_changes_nothing(cli: Cli, tmp_path: Path) -> None:
    _accounts(cli, tmp_path)
    before = _state(cli, tmp_path)
    cases = [
        (["ledger", "transfer"], _jsonl(FUND, {**OVERDRAW, "amount": -1}), "line 2"),
        (["ledger", "transfer"], _jsonl(FUND, {**OVERDRAW, "amount": 1.5}), "amount"),
        (["ledger", "transfer"], _jsonl(FUND) + "{not json\n", "line 2: not JSON"),
        (["ledger", "transfer"], json.dumps([FUND, {**OVERDRAW, "colour": 1}]), "item 1"),
        (["ledger", "transfer"], json.dumps([FUND, {**OVERDRAW, "flags": True}]), "flags"),
        (["ledger", "accounts", "create"], _jsonl({"id": "3", "ledger": 1, "code": 1},
                                                  {"id": 4, "ledger": 1}), "needs 'code'"),
        (["ledger", "balance", "abc"], None, "decimal digits"),
        (["budget", "set", "acme", "--amount", "-5"], None, "negative"),
        (["budget", "set", "acme", "--amount", "1.0000000001"], None, "9 decimals"),
        (["budget", "set", "acme", "--amount", "5", "--asset", "EUR"], None, "not 'EUR'"),
        (["budget", "set", "acme", "--amount", "5", "--period", "weekly"], None, "period"),
        (["budget", "set", "acme/x", "--amount", "5"], None, "parent budget 'acme'"),
        (["budget", "show", "nobody"], None, "does not exist"),
    ]
    for args, stdin, message in cases:
        result = _run(cli, tmp_path, args, stdin)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert message in result.stderr, (args, result.stderr)
        assert result.stdout == "", args
    assert _state(cli, tmp_path) == before
    report = _run(cli, tmp_path, ["budget", "report", "--json"])
    assert json.loads(report.stdout) == {"budgets": []}


def test_large_batches_split_between_chains(cli: Cli, tmp_path: Path) -> None:
    _accounts(cli, tmp_path)
    count = BATCH_MAX + 10
    transfers = [{"id": str(100 + i), "debit_account_id": "1", "credit_account_id": "2",
                  "amount": 1, "ledger": 1, "code": 1,
                  "flags": ["linked"] if i % 2 == 0 else []} for i in range(count)]
    result = _run(cli, tmp_path, ["ledger", "transfer"], _jsonl(*transfers))
    assert result.returncode == 0, result.stderr[-500:]
    lines = _lines(result.stdout)
    assert len(lines) == count and {line["result"] for line in lines} == {"ok"}
    body = _lines(_run(cli, tmp_path, ["ledger", "balance", "2", "--json"]).stdout)[0]
    assert body["credits_posted"] == str(count)


def test_budgets_set_show_report(cli: Cli, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "160")  # rich's table width off a terminal
    steps = [
        ["budget", "set", "acme", "--amount", "1000", "--kind", "org"],
        ["budget", "set", "acme/research", "--amount", "300.50", "--period", "monthly"],
        ["budget", "set", "acme/research/alice", "--amount", "60000", "--period", "yearly",
         "--kind", "user", "--owner", "alice", "--rollover"],
    ]
    for args in steps:
        result = _run(cli, tmp_path, args)
        assert result.returncode == 0, result.stderr
        assert _run(cli, tmp_path, args).returncode == 0  # idempotent
    shown = _run(cli, tmp_path, ["budget", "show", "acme/research/alice", "--json"])
    alice = json.loads(shown.stdout, parse_float=_no_float)
    assert alice["granted"] == "60000" and alice["owner"] == "alice"
    assert alice["rollover"] is True and alice["period"] == "yearly"
    report = _run(cli, tmp_path, ["budget", "report", "--json"])
    lines = json.loads(report.stdout, parse_float=_no_float)["budgets"]
    assert [(x["name"], x["granted"], x["remaining"]) for x in lines] == [
        ("acme", "1000", "1000"), ("acme/research", "300.5", "300.5"),
        ("acme/research/alice", "60000", "60000")]
    table = _run(cli, tmp_path, ["budget", "report"])
    assert table.returncode == 0 and "alice" in table.stdout and "300.5" in table.stdout
    renewed = _run(cli, tmp_path, ["budget", "renew", "--json"])
    assert json.loads(renewed.stdout) == {"renewed": []}  # this period is granted
    conflict = _run(cli, tmp_path, ["budget", "set", "acme", "--amount", "1000",
                                    "--asset", "USDC"])
    assert conflict.returncode == 2 and "fixed" in conflict.stderr
    verified = _run(cli, tmp_path, ["ledger", "verify"])
    assert verified.returncode == 0 and "every invariant holds" in verified.stdout
