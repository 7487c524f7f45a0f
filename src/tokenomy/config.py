"""Settings: the one place that reads ``tokenomy.toml`` and environment variables.

In: an optional TOML file (``TOKENOMY_CONFIG`` or ``./tokenomy.toml``) and the environment.
Out: a frozen :class:`Settings` passed down to everything else. Precedence, lowest first:
built-in defaults, the TOML file, environment variables, command-line flags.

    [server]
    host = "127.0.0.1"
    port = 8402

    [database]
    url = "sqlite:///./tokenomy.db"

    [meter]
    default_model = "gpt-4o"

    [pricing]
    books = ["negotiated.toml"]     # user price books layered over the bundled catalog
    unpriced = "block"              # or "hold": provisional rate, flagged, repriced later
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8402
DEFAULT_DATABASE_URL = "sqlite:///./tokenomy.db"
DEFAULT_MODEL = "gpt-4o"


class ConfigError(ValueError):
    """A configuration file or variable that cannot be used."""


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    database_url: str = DEFAULT_DATABASE_URL
    default_model: str = DEFAULT_MODEL
    pricing_books: tuple[str, ...] = ()
    unpriced: str = "block"
    config_path: str | None = None

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with the given non-``None`` fields replaced (command-line flags)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def _table(data: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    table = data.get(name, {})
    if not isinstance(table, Mapping):
        raise ConfigError(f"[{name}] must be a table")
    return table


def load_settings(
    env: Mapping[str, str] | None = None, config_path: str | Path | None = None
) -> Settings:
    """Read the TOML file and the environment once."""
    env = os.environ if env is None else env
    path_text = config_path or env.get("TOKENOMY_CONFIG")
    path = Path(path_text) if path_text else Path("tokenomy.toml")
    data: Mapping[str, Any] = {}
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: {exc}") from None
    elif path_text:
        raise ConfigError(f"config file {path} does not exist")
    server, database, meter, pricing = (
        _table(data, n) for n in ("server", "database", "meter", "pricing")
    )
    books = pricing.get("books", [])
    if not isinstance(books, list) or not all(isinstance(b, str) for b in books):
        raise ConfigError("[pricing] books must be a list of file paths")
    unpriced = str(env.get("TOKENOMY_UNPRICED", pricing.get("unpriced", "block")))
    if unpriced not in ("block", "hold"):
        raise ConfigError(f"[pricing] unpriced must be 'block' or 'hold', got {unpriced!r}")
    base = path.parent
    raw_port = env.get("TOKENOMY_PORT", server.get("port", DEFAULT_PORT))
    if isinstance(raw_port, str) and raw_port.strip().isdigit():
        port = int(raw_port)
    elif isinstance(raw_port, int) and not isinstance(raw_port, bool):
        port = raw_port
    else:
        raise ConfigError(f"port must be an integer, got {raw_port!r}")
    if not 0 <= port <= 65535:
        raise ConfigError(f"port must be 0..65535, got {port}")
    return Settings(
        host=str(env.get("TOKENOMY_HOST", server.get("host", DEFAULT_HOST))),
        port=port,
        database_url=str(
            env.get("TOKENOMY_DATABASE_URL", database.get("url", DEFAULT_DATABASE_URL))
        ),
        default_model=str(meter.get("default_model", DEFAULT_MODEL)),
        pricing_books=tuple(str(base / b) for b in books),
        unpriced=unpriced,
        config_path=str(path) if path.exists() else None,
    )
