"""The dashboard in a real browser: Playwright driving Debian's headless Chromium against the
seeded ``tokenomy serve``. Every page loads with no console error, its charts render the seeded
numbers (the exact decimal strings in the bars' ``data-value``), and a screenshot of each page
is written to ``tests/artifacts/report/`` (git-ignored; the path is printed).

Skipped, with the reason, only when no Chromium executable can be found (``make test``
installs the Debian package ``chromium``)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from report_seed import Seeded

from tokenomy.report.factory_panel import modelled

CHROMIUM_PATHS = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "report"
PAGES = ("spend", "budgets", "goodput", "market", "factory")


def _chromium() -> str | None:
    for path in CHROMIUM_PATHS:
        if Path(path).exists():
            return path
    return shutil.which("chromium")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = _chromium()
    if executable is None:
        pytest.skip("Chromium not found (/usr/bin/chromium): apt-get install chromium, "
                    "or run `make test`, which installs it")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    with sync_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=executable, headless=True,
                                     args=["--no-sandbox"])
        yield launched
        launched.close()


def _open(browser: Any, seeded: Seeded, page_name: str) -> tuple[Any, list[str]]:
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{seeded.base}/dashboard/{page_name}")
    page.wait_for_selector("body[data-loaded]", timeout=20_000)
    return page, errors


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")


def _bars(page: Any, chart: str) -> dict[str, str]:
    values: dict[str, str] = page.eval_on_selector_all(
        f"#chart-{chart} [data-value]",
        "els => Object.fromEntries(els.map(e => [e.dataset.label, e.dataset.value]))")
    return values


def _api(seeded: Seeded, path: str) -> Any:
    return json.loads(httpx.get(f"{seeded.base}/api/report/{path}", timeout=30).text)


def test_every_page_loads_without_console_errors(browser: Any, seeded: Seeded) -> None:
    for name in PAGES:
        page, errors = _open(browser, seeded, name)
        assert page.get_attribute("body", "data-page") == name
        assert page.eval_on_selector_all(".chart", "els => els.every(e => e.dataset.rendered)")
        assert "update failed" not in page.inner_text("#status")
        _shot(page, name)
        page.close()
        assert errors == [], f"{name}: {errors}"


def test_spend_charts_show_the_seeded_costs(browser: Any, seeded: Seeded) -> None:
    page, errors = _open(browser, seeded, "spend")
    direct = dict(seeded.sql("SELECT model, SUM(captured_minor) FROM gateway_requests "
                             "GROUP BY model"))
    assert {m: Decimal(v) for m, v in _bars(page, "spend").items()} == {
        m: Decimal(v).scaleb(-9) for m, v in direct.items()}
    origin = _bars(page, "origin")
    assert set(origin) == {"US", "CN"} and all(int(v) > 0 for v in origin.values())
    page.select_option("#by", "account")
    page.wait_for_selector('#chart-spend [data-label="acme/infra/bob"]')
    assert set(_bars(page, "spend")) == {"acme/research/alice", "acme/infra/bob"}
    assert page.eval_on_selector_all("#chart-series .point", "els => els.length") >= 2
    page.close()
    assert errors == []


def test_budgets_goodput_and_market_render_the_seeded_numbers(browser: Any,
                                                             seeded: Seeded) -> None:
    budgets = {b["name"]: b for b in _api(seeded, "budgets")["budgets"]}
    page, errors = _open(browser, seeded, "budgets")
    assert _bars(page, "budgets") == {n: b["used_pct"] for n, b in budgets.items()}
    assert set(_bars(page, "engineers")) == {"alice", "bob"}
    page.close()
    goodput = _api(seeded, "goodput")
    page, more = _open(browser, seeded, "goodput")
    errors += more
    assert _bars(page, "goodput") == {f"{r['team']} · {r['model']}": r["goodput"]
                                      for r in goodput["rows"]}
    assert _bars(page, "goodput")["acme/research · sim-small"] != "1.0000"  # useless marked
    page.close()
    page, more = _open(browser, seeded, "market")
    errors += more
    assert _bars(page, "book") == {"TKF-SPOT bid 14.50": "3", "TKF-SPOT ask 15.00": "3"}
    assert list(_bars(page, "curve").values()) == ["16.00"]
    assert page.locator("#table-trades td[data-col='price']").all_inner_texts() == [
        "15.00", "16.00"] or sorted(page.locator(
            "#table-trades td[data-col='price']").all_inner_texts()) == ["15.00", "16.00"]
    page.close()
    page, more = _open(browser, seeded, "factory")
    errors += more
    shown = page.locator("#table-factory td[data-col='tokens_per_joule']").all_inner_texts()
    assert shown[:len(modelled())] == [r["tokens_per_joule"] for r in modelled()]
    assert shown[len(modelled()):] == ["2.000", "8.000"]  # the seeded measurement
    page.close()
    assert errors == []
