"""The layering rule of ARCHITECTURE.md: the pure core does no I/O and imports no edge."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "tokenomy"
CORE = ("money", "meter", "pricing", "ledger", "exchange", "factory")
MAY_IMPORT = {
    "money": set(),
    "meter": {"money"},
    "pricing": {"money", "meter"},
    "ledger": {"money"},
    "exchange": {"money", "ledger"},
    "factory": {"money"},
}
# Modules that do I/O (network, database, clock, randomness, environment, processes).
FORBIDDEN = {
    "sqlite3", "psycopg", "socket", "http", "urllib.request", "httpx", "requests", "asyncio",
    "subprocess", "random", "secrets", "time", "uuid", "os", "shutil", "tempfile",
    "fastapi", "starlette", "uvicorn", "typer", "tokenomy.config", "tokenomy.store",
    "tokenomy.gateway", "tokenomy.cli",
}
FORBIDDEN_CALLS = {"datetime.now", "datetime.utcnow", "date.today", "open"}


def _core_files() -> list[Path]:
    return [p for pkg in CORE for p in sorted((SRC / pkg).rglob("*.py")) if (SRC / pkg).exists()]


def _imports(tree: ast.AST) -> list[str]:
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


@pytest.mark.parametrize("path", _core_files(), ids=lambda p: str(p.relative_to(SRC)))
def test_core_module_does_no_io_and_respects_layers(path: Path) -> None:
    package = path.relative_to(SRC).parts[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for name in _imports(tree):
        root = name.split(".")[0]
        assert root not in FORBIDDEN and name not in FORBIDDEN, f"{path.name} imports {name}"
        if name.startswith("tokenomy."):
            target = name.split(".")[1]
            allowed = MAY_IMPORT[package] | {package, "_invariant"}
            assert target in allowed, f"{package} may not import tokenomy.{target}"
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = ast.unparse(node.func)
            assert func not in FORBIDDEN_CALLS, f"{path.name} calls {func}()"


def test_the_rule_sees_a_violation(tmp_path: Path) -> None:
    tree = ast.parse("import sqlite3\nfrom tokenomy.store import x\n")
    assert _imports(tree) == ["sqlite3", "tokenomy.store"]


def isort_key(name: str) -> tuple[int, str]:
    """Ruff's RUF022 order: CONSTANTS, then Classes, then functions, each alphabetical."""
    kind = 0 if name.isupper() else 1 if name[:1].isupper() else 2
    return kind, name


def test_public_all_is_sorted() -> None:
    import tokenomy.meter
    import tokenomy.money

    for module in (tokenomy.meter, tokenomy.money):
        assert list(module.__all__) == sorted(module.__all__, key=isort_key), module.__name__
        for name in module.__all__:
            assert hasattr(module, name)
