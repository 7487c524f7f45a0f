"""Pricing on the command line: ``cost``, ``prices``, ``models``, ``stu`` and ``prices reprice``,
each a real ``tokenomy`` subprocess; books and SQLite files live in ``tmp_path``.

Every expected cost is worked out by hand from the bundled catalog (USD per 1M tokens):

    gpt-4o             2024-05-13  input 5.00  output 15.00  batch ×0.5   (launch price)
                       2024-10-02  input 2.50  cache_read 1.25  output 10.00  batch ×0.5
    claude-sonnet-4-5  2025-09-29  input 3.00  5m write 3.75  1h write 6.00  read 0.30
                                   output 15.00  batch ×0.5
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from subprocess import CompletedProcess
from typing import Any

Cli = Callable[..., CompletedProcess[str]]


# -- helpers ---------------------------------------------------------------------------------


def _no_float(text: str) -> Any:
    raise AssertionError(f"a JSON number with a fraction is on the wire: {text}")


def _lines(stdout: str) -> list[dict[str, Any]]:
    """Each JSON line of ``stdout``; a float anywhere fails the test (money is strings)."""
    return [json.loads(line, parse_float=_no_float) for line in stdout.splitlines()]


def _jsonl(*records: dict[str, Any]) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def _openai(rid: str, model: str, at: str | None, prompt: int, completion: int,
            cached: int = 0, **extra: Any) -> dict[str, Any]:
    usage: dict[str, Any] = {"prompt_tokens": prompt, "completion_tokens": completion,
                             "total_tokens": prompt + completion}
    if cached:
        usage["prompt_tokens_details"] = {"cached_tokens": cached}
    record: dict[str, Any] = {"id": rid, "provider": "openai", "api": "chat", "model": model,
                              "usage": usage, **extra}
    if at is not None:
        record["at"] = at
    return record


def _sonnet(rid: str, at: str, **usage: Any) -> dict[str, Any]:
    return {"id": rid, "provider": "anthropic", "api": "messages",
            "model": "claude-sonnet-4-5", "at": at, "usage": usage}


def _assert_line_sums(line: dict[str, Any]) -> None:
    """A priced line: decimal strings everywhere, and cost = the sum of its line items."""
    assert isinstance(line["cost_usd"], str) and isinstance(line["stu"], str)
    for item in line["lines"]:
        assert isinstance(item["cost_usd"], str)
        assert isinstance(item.get("rate_usd_per_mtok", item.get("rate_usd_per_unit")), str)
    assert Decimal(line["cost_usd"]) == sum(Decimal(i["cost_usd"]) for i in line["lines"])


def _items(line: dict[str, Any]) -> dict[tuple[str, str | None], tuple[int, str, str]]:
    """``{(class, ttl): (tokens, rate, cost)}`` of a priced line's text items."""
    return {(i["class"], i.get("ttl")): (i["tokens"], i["rate_usd_per_mtok"], i["cost_usd"])
            for i in line["lines"]}


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _dump(db: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT * FROM usage_records ORDER BY id").fetchall()


DISCOUNT_BOOK = """\
provider = "acme"
name = "acme"
country = "US"
source = "contract 2024-01"

[[model]]
id = "gpt-4o"
  [[model.price]]
  valid_from = "2024-01-01"
  note = "negotiated 20% off whatever OpenAI lists"
  multiplier = "0.8"

[[model]]
id = "llama-onprem"
quality = "economy"
  [[model.price]]
  valid_from = "2025-01-01"
  input  = "0.10"
  output = "0.40"
"""


# -- tokenomy cost ---------------------------------------------------------------------------


def test_cost_prices_at_the_price_in_force_with_line_items(cli: Cli) -> None:
    """gpt-4o before and after the 2024-10-02 cut, the launch price without a cache discount,
    Anthropic's 5m and 1h cache writes, and the batch tier — one run, every line checked."""
    stdin = _jsonl(
        _openai("launch", "gpt-4o", "2024-06-01", 1000, 200),
        _openai("launch-cached", "gpt-4o", "2024-06-01T12:00:00Z", 1000, 0, cached=400),
        _openai("cut", "gpt-4o", "2025-06-01", 1000, 200, cached=400),
        _openai("batch", "gpt-4o", "2025-06-01", 1000, 200, service_tier="batch"),
        _sonnet("sonnet", "2025-10-15T08:30:00Z", input_tokens=1000,
                cache_read_input_tokens=2000, cache_creation_input_tokens=3000,
                cache_creation={"ephemeral_5m_input_tokens": 1000,
                                "ephemeral_1h_input_tokens": 2000},
                output_tokens=500),
    )
    result = cli(["cost", "--json"], stdin=stdin)
    assert result.returncode == 0, result.stderr
    *lines, summary = _lines(result.stdout)
    by_id = {line["id"]: line for line in lines}
    assert list(by_id) == ["launch", "launch-cached", "cut", "batch", "sonnet"]
    for line in lines:
        _assert_line_sums(line)
        assert set(line) >= {"id", "model", "cost_usd", "price_version", "stu", "lines"}
        assert line["provisional"] is False

    launch = by_id["launch"]  # 1000 × $5 + 200 × $15 per 1M
    assert launch["cost_usd"] == "0.008"
    assert launch["price_version"] == "openai/gpt-4o@2024-05-13"
    assert launch["lines"] == [
        {"class": "input", "modality": "text", "tokens": 1000, "rate_usd_per_mtok": "5",
         "cost_usd": "0.005"},
        {"class": "output", "modality": "text", "tokens": 200, "rate_usd_per_mtok": "15",
         "cost_usd": "0.003"},
    ]
    assert launch["active_context_tokens"] == "5.00"
    # No caching at launch: cached input falls back to the input rate, never to $0.
    cached = _items(by_id["launch-cached"])
    assert cached[("cache_read", None)] == (400, "5", "0.002")
    assert by_id["launch-cached"]["cost_usd"] == "0.005"
    # After the cut: 600 × 2.50 + 400 × 1.25 + 200 × 10.
    cut = by_id["cut"]
    assert cut["price_version"] == "openai/gpt-4o@2024-10-02"
    assert _items(cut) == {("input", None): (600, "2.5", "0.0015"),
                           ("cache_read", None): (400, "1.25", "0.0005"),
                           ("output", None): (200, "10", "0.002")}
    assert cut["cost_usd"] == "0.004"
    # Batch halves every rate: 1000 × 1.25 + 200 × 5.
    batch = by_id["batch"]
    assert batch["service_tier"] == "batch" and batch["cost_usd"] == "0.00225"
    assert _items(batch)[("input", None)] == (1000, "1.25", "0.00125")
    assert all(i["rule"] == "batch ×0.5" for i in batch["lines"])
    # 1000 × 3 + 2000 × 0.30 + 1000 × 3.75 (5m) + 2000 × 6.00 (1h) + 500 × 15.
    sonnet = by_id["sonnet"]
    assert sonnet["price_version"] == "anthropic/claude-sonnet-4-5@2025-09-29"
    assert _items(sonnet) == {("input", None): (1000, "3", "0.003"),
                              ("cache_read", None): (2000, "0.3", "0.0006"),
                              ("cache_write", "5m"): (1000, "3.75", "0.00375"),
                              ("cache_write", "1h"): (2000, "6", "0.012"),
                              ("output", None): (500, "15", "0.0075")}
    assert sonnet["cost_usd"] == "0.02685"
    assert sonnet["active_context_tokens"] == "12.00"  # 6000 in ÷ 500 out

    assert summary == {"total_cost_usd": "0.0461", "records": 5, "errors": 0}
    assert Decimal(summary["total_cost_usd"]) == sum(Decimal(x["cost_usd"]) for x in lines)


def test_cost_reports_bad_lines_and_prices_the_others(cli: Cli) -> None:
    stdin = _jsonl(
        _openai("ok", "gpt-4o", "2025-06-01", 1000, 200),
        _openai("unknown", "gpt-99-turbo", "2025-06-01", 10, 10),
        _openai("too-early", "claude-sonnet-4-5", "2024-01-01", 10, 10),
        _openai("bad-tier", "gpt-4o", "2025-06-01", 10, 10, service_tier="turbo"),
        {"id": "bad-usage", "provider": "openai", "api": "chat", "model": "gpt-4o",
         "usage": {"prompt_tokens": -1, "completion_tokens": 1}},
    ) + "this is not json\n" + _jsonl(_openai("ok2", "gpt-4o", "2024-06-01", 1000, 200))
    result = cli(["cost", "--json"], stdin=stdin)
    assert result.returncode == 1
    assert "5 record(s) failed" in result.stderr
    *lines, summary = _lines(result.stdout)
    assert [line["id"] for line in lines] == ["ok", "unknown", "too-early", "bad-tier",
                                              "bad-usage", None, "ok2"]
    errors = {line["id"]: line["error"] for line in lines if "error" in line}
    assert set(errors) == {"unknown", "too-early", "bad-tier", "bad-usage", None}
    for line in lines:
        if "error" in line:
            assert set(line) == {"id", "error"}
            assert set(line["error"]) >= {"type", "message"}
    assert errors["unknown"]["type"] == "unpriced"
    assert "gpt-99-turbo" in errors["unknown"]["message"]
    assert "tokenomy prices" in errors["unknown"]["message"]
    assert errors["too-early"]["type"] == "unpriced"
    assert "service_tier" in errors["bad-tier"]["message"]
    assert errors[None]["type"] == "invalid_json" and "line 6" in errors[None]["message"]
    assert summary == {"total_cost_usd": "0.0125", "records": 7, "errors": 5}


def test_cost_holds_an_unknown_model_at_a_provisional_price(cli: Cli) -> None:
    stdin = _jsonl(_openai("held", "gpt-99-turbo", "2025-06-01", 1000, 100),
                   _openai("known", "gpt-4o", "2025-06-01", 1000, 200))
    result = cli(["cost", "--json", "--unpriced", "hold"], stdin=stdin)
    assert result.returncode == 0, result.stderr
    held, known, summary = _lines(result.stdout)
    assert held["provisional"] is True and held["price_version"] == "provisional"
    # Held at the deliberately dear default: 1000 × $15 + 100 × $75 per 1M.
    assert held["cost_usd"] == "0.0225"
    assert [(i["class"], i["rate_usd_per_mtok"]) for i in held["lines"]] == [
        ("input", "15"), ("output", "75")]
    _assert_line_sums(held)
    assert known["provisional"] is False and known["cost_usd"] == "0.0045"
    assert summary == {"total_cost_usd": "0.027", "records": 2, "errors": 0}

    wrong = cli(["cost", "--json", "--unpriced", "maybe"], stdin=stdin)
    assert wrong.returncode == 2 and "--unpriced" in wrong.stderr and not wrong.stdout


def test_cost_with_a_user_book_discount_and_a_self_hosted_model(cli: Cli,
                                                                 tmp_path: Path) -> None:
    book = _write(tmp_path / "acme.toml", DISCOUNT_BOOK)
    stdin = _jsonl(
        _openai("old", "gpt-4o", "2024-06-01", 1000, 200),
        _openai("new", "gpt-4o", "2025-06-01", 1000, 200, cached=400),
        _openai("mine", "llama-onprem", "2025-06-01", 1_000_000, 250_000),
        _openai("before-mine", "llama-onprem", "2024-06-01", 10, 10),
    )
    plain = _lines(cli(["cost", "--json"], stdin=stdin).stdout)
    result = cli(["cost", "--json", "--book", str(book)], stdin=stdin)
    assert result.returncode == 1  # llama-onprem has no price before 2025-01-01
    old, new, mine, before, summary = _lines(result.stdout)

    for discounted, listed in ((old, plain[0]), (new, plain[1])):
        _assert_line_sums(discounted)
        assert Decimal(discounted["cost_usd"]) == Decimal(listed["cost_usd"]) * Decimal("0.8")
    assert old["cost_usd"] == "0.0064"  # 1000 × 4.00 + 200 × 12.00
    assert old["price_version"] == "acme/gpt-4o@2024-01-01(openai/gpt-4o@2024-05-13)"
    assert new["cost_usd"] == "0.0032"  # 600 × 2.00 + 400 × 1.00 + 200 × 8.00
    assert new["price_version"] == "acme/gpt-4o@2024-01-01(openai/gpt-4o@2024-10-02)"
    assert _items(new)[("cache_read", None)] == (400, "1", "0.0004")

    assert mine["price_version"] == "acme/llama-onprem@2025-01-01"
    assert mine["cost_usd"] == "0.2"  # 1M × 0.10 + 250K × 0.40
    assert before["error"]["type"] == "unpriced" and "llama-onprem" in before["error"]["message"]
    assert summary == {"total_cost_usd": "0.2096", "records": 4, "errors": 1}


def test_a_broken_book_is_refused_with_every_problem_named(cli: Cli, tmp_path: Path) -> None:
    book = _write(tmp_path / "broken.toml", """\
provider = "acme"
name = "acme"

[[model]]
id = "cheap"
colour = "red"
  [[model.price]]
  valid_from = "2025-01-01"
  input  = 2.5
  output = "1.00"
  discount = "0.9"
""")
    stdin = _jsonl(_openai("a", "gpt-4o", "2025-06-01", 10, 10))
    for args in (["cost", "--json"], ["prices", "gpt-4o", "--json"], ["stu", "table", "--json"]):
        result = cli([*args, "--book", str(book)], stdin=stdin)
        assert result.returncode == 2, args
        assert not result.stdout
        assert "broken.toml" in result.stderr
        assert "colour" in result.stderr and "unknown key" in result.stderr
        assert "discount" in result.stderr
        assert "input" in result.stderr and "2.5" in result.stderr
        assert "Traceback" not in result.stderr

    missing = cli(["cost", "--json", "--book", str(tmp_path / "nope.toml")], stdin=stdin)
    assert missing.returncode == 2 and "nope.toml" in missing.stderr


def test_a_relative_entry_with_nothing_below_is_a_clean_error(cli: Cli, tmp_path: Path) -> None:
    book = _write(tmp_path / "ghost.toml", """\
provider = "acme"
name = "acme"
[[model]]
id = "ghost-model"
  [[model.price]]
  valid_from = "2024-01-01"
  multiplier = "0.8"
""")
    result = cli(["cost", "--json", "--book", str(book)],
                 stdin=_jsonl(_openai("a", "gpt-4o", "2025-06-01", 1000, 200)))
    assert "Traceback" not in result.stderr
    if result.returncode == 2:  # refused when the book is loaded, naming the entry
        assert "ghost-model" in result.stderr
    else:  # or the entry is simply unpriced, and other models are still priced
        assert result.returncode == 0, result.stderr
        assert _lines(result.stdout)[0]["cost_usd"] == "0.0045"


def test_cost_reads_books_and_policy_from_the_config_file(cli: Cli, tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    (conf / "books").mkdir(parents=True)
    _write(conf / "books" / "acme.toml", DISCOUNT_BOOK)
    config = _write(conf / "tokenomy.toml",
                    '[pricing]\nbooks = ["books/acme.toml"]\nunpriced = "hold"\n')
    stdin = _jsonl(_openai("mine", "llama-onprem", "2025-06-01", 1_000_000, 250_000),
                   _openai("held", "nobody-knows", "2025-06-01", 1000, 100))
    # Run elsewhere: the book path is resolved against the config file's folder.
    result = cli(["cost", "--json", "--config", str(config)], stdin=stdin, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    mine, held, _ = _lines(result.stdout)
    assert mine["cost_usd"] == "0.2" and held["price_version"] == "provisional"
    # A flag beats the file.
    blocked = cli(["cost", "--json", "--config", str(config), "--unpriced", "block"],
                  stdin=stdin, cwd=tmp_path)
    assert blocked.returncode == 1 and _lines(blocked.stdout)[1]["error"]["type"] == "unpriced"


def test_cost_table_output_names_errors(cli: Cli) -> None:
    stdin = _jsonl(_openai("fine", "gpt-4o", "2025-06-01", 1000, 200),
                   _openai("nope", "gpt-99-turbo", "2025-06-01", 1, 1))
    result = cli(["cost"], stdin=stdin)
    assert result.returncode == 1
    assert "0.0045" in result.stdout and "gpt-99-turbo" in result.stdout
    assert "total 0.0045 USD over 2 records, 1 errors" in result.stdout


# -- tokenomy prices / models ----------------------------------------------------------------


def test_prices_shows_one_model_with_its_history(cli: Cli) -> None:
    launch = cli(["prices", "gpt-4o", "--at", "2024-06-01", "--json"])
    assert launch.returncode == 0, launch.stderr
    body = _lines(launch.stdout)[0]
    assert body["model"] == "gpt-4o" and body["at"] == "2024-06-01T00:00:00+00:00"
    entry = body["entry"]
    assert entry["version"] == "openai/gpt-4o@2024-05-13"
    assert entry["rates_per_mtok"] == {"input": "5.00", "output": "15.00"}
    assert entry["valid_to"] == "2024-10-02T00:00:00+00:00"
    assert entry["service_tiers"] == {"batch": {"multiplier": "0.5"}}
    assert entry["provider"] == "openai" and entry["book"] == "bundled"
    assert [h["version"] for h in body["history"]] == ["openai/gpt-4o@2024-05-13",
                                                       "openai/gpt-4o@2024-10-02"]
    assert body["history"][1]["rates_per_mtok"]["cache_read"] == "1.25"

    later = _lines(cli(["prices", "gpt-4o-2024-11-20", "--at", "2025-06-01", "--json"]).stdout)[0]
    assert later["model"] == "gpt-4o"  # an alias resolves to its model
    assert later["entry"]["version"] == "openai/gpt-4o@2024-10-02"
    assert len(later["history"]) == 2

    table = cli(["prices", "gpt-4o", "--at", "2024-06-01"])
    assert table.returncode == 0 and "openai/gpt-4o@2024-05-13" in table.stdout


def test_prices_lists_the_models_in_force_at_a_date(cli: Cli, tmp_path: Path) -> None:
    book = _write(tmp_path / "acme.toml", DISCOUNT_BOOK)
    result = cli(["prices", "--at", "2024-06-01", "--json", "--book", str(book)])
    assert result.returncode == 0, result.stderr
    models = {m["model"]: m for m in _lines(result.stdout)[0]["models"]}
    assert models["gpt-4o"]["version"] == "acme/gpt-4o@2024-01-01(openai/gpt-4o@2024-05-13)"
    assert models["gpt-4o"]["rates_per_mtok"] == {"input": "4.000", "output": "12.000"}
    assert "claude-sonnet-4-5" not in models  # launched 2025-09-29
    assert "llama-onprem" not in models  # priced from 2025-01-01


def test_prices_refuses_what_it_cannot_show(cli: Cli) -> None:
    unknown = cli(["prices", "nosuchmodel"])
    assert unknown.returncode == 2 and not unknown.stdout
    assert "nosuchmodel" in unknown.stderr and "tokenomy prices" in unknown.stderr
    early = cli(["prices", "claude-sonnet-4-5", "--at", "2024-01-01", "--json"])
    assert early.returncode == 2 and "no price in force" in early.stderr
    bad_date = cli(["prices", "gpt-4o", "--at", "yesterday"])
    assert bad_date.returncode == 2 and "yesterday" in bad_date.stderr


def test_models_json_has_meter_rules_and_prices(cli: Cli) -> None:
    result = cli(["models", "--json"])
    assert result.returncode == 0, result.stderr
    rows = {row["model"]: row for row in _lines(result.stdout)[0]["models"]}
    gpt = rows["gpt-4o"]
    assert gpt["provider"] == "openai"
    assert gpt["price"]["input"] == "2.50" and gpt["price"]["output"] == "10.00"
    assert gpt["price"]["version"] == "openai/gpt-4o@2024-10-02"
    assert gpt["price"]["currency"] == "USD" and gpt["price"]["quality"] == "standard"
    assert gpt["meter"]["tokenizer"] == "o200k_base" and gpt["meter"]["tokenizer_exact"] is True
    assert rows["claude-sonnet-4-5"]["price"]["input"] == "3.00"
    only_anthropic = _lines(cli(["models", "--json", "--provider", "anthropic"]).stdout)[0]
    assert {row["provider"] for row in only_anthropic["models"]} == {"anthropic"}
    nobody = cli(["models", "--provider", "nobody"])
    assert nobody.returncode == 2 and "nobody" in nobody.stderr


# -- tokenomy stu ----------------------------------------------------------------------------


def test_stu_table_and_convert_agree(cli: Cli) -> None:
    table_run = cli(["stu", "table", "--json"])
    assert table_run.returncode == 0, table_run.stderr
    table = _lines(table_run.stdout)[0]
    assert table["version"].startswith("stu-")
    assert set(table["weights"]) == {"frontier", "standard", "economy", "all"}
    for quality, weights in table["weights"].items():
        assert weights["input/text"] == "1.0000", quality
        assert all(isinstance(w, str) and len(w.split(".")[1]) == 4 for w in weights.values())
    assert table["models"]["all"] == sum(table["models"][q]
                                         for q in ("frontier", "standard", "economy"))
    std = {k: Decimal(v) for k, v in table["weights"]["standard"].items()}

    stdin = _jsonl(
        _openai("native", "gpt-4o", None, 1000, 3),
        {"id": "canonical", "model": "gpt-4o",
         "tokens": {"input": 700, "cache_read": 300, "output": 3}},
        {"id": "no-output", "model": "gpt-4o", "tokens": {"input": 10}},
        {"id": "held", "model": "nobody-knows", "tokens": {"input": 10, "output": 5}},
    ) + "{broken\n"
    result = cli(["stu", "convert", "--json"], stdin=stdin)
    assert result.returncode == 1 and "1 record(s) failed" in result.stderr
    native, canonical, no_output, held, broken = _lines(result.stdout)
    assert native["stu_table"] == table["version"]
    assert native["quality"] == "standard"
    assert Decimal(native["stu"]) == 1000 + 3 * std["output/text"]
    assert native["active_context_tokens"] == "333.33"  # 1000 ÷ 3
    assert Decimal(canonical["stu"]) == (700 + 300 * std["cache_read/text"]
                                         + 3 * std["output/text"])
    assert canonical["active_context_tokens"] == "333.33"
    assert no_output["stu"] == "10" and no_output["active_context_tokens"] is None
    assert held["quality"] == "frontier" and held["active_context_tokens"] == "2.00"
    assert broken["error"]["type"] == "invalid_json"


# -- tokenomy prices reprice -----------------------------------------------------------------


def test_reprice_is_a_dry_run_over_recorded_costs(cli: Cli, tmp_path: Path) -> None:
    db = tmp_path / "usage.db"
    url = f"sqlite:///{db}"
    stdin = _jsonl(
        _openai("a", "gpt-4o", "2025-06-01", 1000, 200),
        _sonnet("b", "2025-10-15T12:00:00Z", input_tokens=1000, output_tokens=500),
        _openai("c", "llama-onprem", "2025-07-01", 1000, 100),
        _openai("old", "gpt-4o", "2024-06-01", 1000, 200),
    )
    recorded = cli(["cost", "--json", "--unpriced", "hold", "--record", "--database-url", url],
                   stdin=stdin)
    assert recorded.returncode == 0, recorded.stderr
    rows = _dump(db)
    assert [r[0] for r in rows] == ["a", "b", "c", "old"]
    assert {r[0]: (r[6], r[8], r[9]) for r in rows} == {
        "a": (4_500_000, "openai/gpt-4o@2024-10-02", 0),
        "b": (10_500_000, "anthropic/claude-sonnet-4-5@2025-09-29", 0),
        "c": (22_500_000, "provisional", 1),
        "old": (8_000_000, "openai/gpt-4o@2024-05-13", 0),
    }

    # A book that changes nothing for these records: every delta is "0".
    unrelated = _write(tmp_path / "unrelated.toml", """\
provider = "acme"
name = "acme"
[[model]]
id = "something-else"
  [[model.price]]
  valid_from = "2020-01-01"
  input = "1"
  output = "2"
""")
    same = cli(["prices", "reprice", "--since", "2025-01-01", "--book", str(unrelated),
                "--json", "--unpriced", "hold", "--database-url", url])
    assert same.returncode == 0, same.stderr
    *lines, summary = _lines(same.stdout)
    assert [line["id"] for line in lines] == ["a", "c", "b"]  # oldest first, "old" excluded
    assert all(line["delta_usd"] == "0" for line in lines)
    assert all(line["old_price_version"] == line["new_price_version"] for line in lines)
    assert summary == {"records": 3, "changed": 0, "errors": 0, "old_total_usd": "0.0375",
                       "new_total_usd": "0.0375", "delta_usd": "0", "dry_run": True}

    # +10% on gpt-4o from 2025, and the held model finally priced.
    up = _write(tmp_path / "up.toml", """\
provider = "acme"
name = "up10"
[[model]]
id = "gpt-4o"
  [[model.price]]
  valid_from = "2025-01-01"
  multiplier = "1.1"
[[model]]
id = "llama-onprem"
quality = "economy"
  [[model.price]]
  valid_from = "2025-01-01"
  input = "0.10"
  output = "0.40"
""")
    result = cli(["prices", "reprice", "--since", "2024-01-01", "--until", "2025-10-01",
                  "--book", str(up), "--json", "--database-url", url])
    assert result.returncode == 0, result.stderr
    *lines, summary = _lines(result.stdout)
    by_id = {line["id"]: line for line in lines}
    assert list(by_id) == ["old", "a", "c"]  # b (2025-10-15) is past --until
    assert by_id["old"]["delta_usd"] == "0"  # before the markup's valid_from
    assert by_id["a"]["old_cost_usd"] == "0.0045" and by_id["a"]["new_cost_usd"] == "0.00495"
    assert by_id["a"]["delta_usd"] == "0.00045"
    assert by_id["a"]["new_price_version"] == "up10/gpt-4o@2025-01-01(openai/gpt-4o@2024-10-02)"
    held = by_id["c"]
    assert held["old_price_version"] == "provisional" and held["provisional"] is False
    assert held["new_price_version"] == "up10/llama-onprem@2025-01-01"
    assert held["new_cost_usd"] == "0.00014"  # 1000 × 0.10 + 100 × 0.40
    assert held["delta_usd"] == "-0.02236"
    assert summary == {"records": 3, "changed": 2, "errors": 0, "old_total_usd": "0.035",
                       "new_total_usd": "0.01309", "delta_usd": "-0.02191", "dry_run": True}

    # Without a price for the held model and with the block policy, it is an error line.
    blocked = cli(["prices", "reprice", "--since", "2025-01-01", "--book", str(unrelated),
                   "--json", "--database-url", url])
    *lines, summary = _lines(blocked.stdout)
    assert summary["errors"] == 1 and summary["old_total_usd"] == "0.015"
    assert next(line for line in lines if line["id"] == "c")["error"]["type"] == "unpriced"

    text = cli(["prices", "reprice", "--since", "2025-01-01", "--book", str(up),
                "--database-url", url])
    assert text.returncode == 0 and "dry run" in text.stdout and "-0.02236" in text.stdout

    assert _dump(db) == rows  # a dry run: nothing recorded changes


def test_recording_is_idempotent_and_refuses_conflicts(cli: Cli, tmp_path: Path) -> None:
    db = tmp_path / "usage.db"
    url = f"sqlite:///{db}"
    stdin = _jsonl(_openai("a", "gpt-4o", "2025-06-01", 1000, 200),
                   _sonnet("b", "2025-10-15T12:00:00Z", input_tokens=10, output_tokens=5))
    first = cli(["cost", "--json", "--record", "--database-url", url], stdin=stdin)
    assert first.returncode == 0, first.stderr
    rows = _dump(db)
    assert len(rows) == 2

    again = cli(["cost", "--json", "--record", "--database-url", url], stdin=stdin)
    assert again.returncode == 0, again.stderr
    assert _dump(db) == rows  # same rows, first recorded_at kept

    conflicting = _jsonl(_openai("new", "gpt-4o", "2025-06-02", 5, 5),
                         _openai("a", "gpt-4o", "2025-06-01", 1000, 201))
    refused = cli(["cost", "--json", "--record", "--database-url", url], stdin=conflicting)
    assert refused.returncode == 2
    assert "'a'" in refused.stderr and "different content" in refused.stderr
    assert _dump(db) == rows  # nothing of that batch, not even "new", was written

    no_id = cli(["cost", "--json", "--record", "--database-url", url],
                stdin=_jsonl({k: v for k, v in _openai("x", "gpt-4o", "2025-06-01", 1, 1).items()
                              if k != "id"}))
    assert no_id.returncode == 2 and "id" in no_id.stderr
    assert _dump(db) == rows

    bad_url = cli(["cost", "--json", "--record", "--database-url", "mysql://x"], stdin=stdin)
    assert bad_url.returncode == 2 and "mysql://x" in bad_url.stderr


def test_recording_a_record_without_at_is_refused_cleanly(cli: Cli, tmp_path: Path) -> None:
    """Without `at` a record is priced "now", so a replay could not be the same record:
    --record refuses it (and writes nothing) rather than storing a time-dependent cost."""
    url = f"sqlite:///{tmp_path / 'usage.db'}"
    stdin = _jsonl(_openai("now", "gpt-4o", None, 1000, 200))
    first = cli(["cost", "--json", "--record", "--database-url", url], stdin=stdin)
    assert first.returncode == 2 and "`at`" in first.stderr
    assert not (tmp_path / "usage.db").exists() or _dump(tmp_path / "usage.db") == []
