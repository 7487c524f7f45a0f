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

    [gateway]
    routing = "cheapest"            # cheapest | fastest | greenest
    upstream_timeout_s = 600        # one upstream call, first byte to last
    reservation_timeout_s = 900     # a reservation left open this long is released
    upstream_client = "builtin"     # or "httpx": slower, honours HTTPS_PROXY and friends

    [[upstream]]
    name = "openai"
    kind = "openai"                 # openai | anthropic: the API family it speaks
    base_url = "https://api.openai.com/v1"
    api_key_env = "OPENAI_API_KEY"  # the secret stays in the environment
    models = ["gpt-4o", "gpt-4o-mini"]
    region = "us"
    weight = 1
    joules_per_token = "0.4"        # optional, for greenest routing

    [factory]                       # the dashboard's factory page
    measurements = ["h200.json"]    # files written by `tokenomy factory measure --save`

    [x402]                          # pay per request without a key (HTTP 402, USDC)
    enabled = true
    facilitator_url = ""            # "" = the local facilitator over this ledger
    network = "eip155:4020402"      # the local chain (a public one with a remote facilitator)
    asset = "0x7040000000000000000000000000000000000402"
    asset_name = "Tokenomy Local USDC"   # the asset's EIP-712 domain
    asset_version = "1"
    pay_to = "0x7040000000000000000000000000000000000001"
    max_timeout_s = 120

    [[model_group]]                 # a name clients send as "model"; routed among its models
    name = "chat-auto"
    models = ["gpt-4o-mini", "deepseek-chat", "sim-small"]
    routing = "cheapest"            # optional, default [gateway] routing
    quality = "standard"            # optional: only models of this quality tier or better
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8402
DEFAULT_DATABASE_URL = "sqlite:///./tokenomy.db"
DEFAULT_MODEL = "gpt-4o"


ROUTING_STRATEGIES = ("cheapest", "fastest", "greenest")
UPSTREAM_CLIENTS = ("builtin", "httpx")  # [gateway] upstream_client
UPSTREAM_KINDS = ("openai", "anthropic")
DEFAULT_UPSTREAM_TIMEOUT_S = 600
DEFAULT_RESERVATION_TIMEOUT_S = 900
UPSTREAMS_MAX = 256


class ConfigError(ValueError):
    """A configuration file or variable that cannot be used."""


@dataclass(frozen=True, slots=True)
class UpstreamSpec:
    """One ``[[upstream]]``: where a family of models is served."""

    name: str
    kind: str  # openai | anthropic
    base_url: str  # as the family's SDK takes it: OpenAI's ends in /v1, Anthropic's does not
    api_key_env: str = ""  # the environment variable holding its key ("" = none)
    models: tuple[str, ...] = ()  # ("*",) serves any model
    region: str = ""
    weight: int = 1
    joules_per_token: Decimal | None = None  # energy per token, where known (greenest)


@dataclass(frozen=True, slots=True)
class X402Settings:
    """``[x402]``: the paywall for requests without a key."""

    enabled: bool = True
    facilitator_url: str = ""  # "" = local, over the ledger
    network: str = "eip155:4020402"
    asset: str = "0x7040000000000000000000000000000000000402"
    asset_name: str = "Tokenomy Local USDC"
    asset_version: str = "1"
    pay_to: str = "0x7040000000000000000000000000000000000001"
    max_timeout_s: int = 120


@dataclass(frozen=True, slots=True)
class ModelGroup:
    """A model name that routes among several models (``[[model_group]]``)."""

    name: str
    models: tuple[str, ...]
    routing: str = ""  # "" = the gateway's strategy
    quality: str = ""  # minimum quality tier: frontier > standard > economy ("" = any)


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    database_url: str = DEFAULT_DATABASE_URL
    default_model: str = DEFAULT_MODEL
    pricing_books: tuple[str, ...] = ()
    unpriced: str = "block"
    config_path: str | None = None
    routing: str = "cheapest"
    upstream_timeout_s: int = DEFAULT_UPSTREAM_TIMEOUT_S
    reservation_timeout_s: int = DEFAULT_RESERVATION_TIMEOUT_S
    upstream_client: str = "builtin"  # builtin | httpx (gateway/upstream_httpx.py)
    upstreams: tuple[UpstreamSpec, ...] = ()
    model_groups: tuple[ModelGroup, ...] = ()
    x402: X402Settings = X402Settings()
    factory_measurements: tuple[str, ...] = ()  # saved `factory measure` files (dashboard)

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
    gateway = _table(data, "gateway")
    routing = str(gateway.get("routing", "cheapest"))
    if routing not in ROUTING_STRATEGIES:
        raise ConfigError(f"[gateway] routing must be one of {', '.join(ROUTING_STRATEGIES)}")
    upstream_timeout_s = _positive(gateway, "upstream_timeout_s", DEFAULT_UPSTREAM_TIMEOUT_S)
    reservation_timeout_s = _positive(gateway, "reservation_timeout_s",
                                      max(DEFAULT_RESERVATION_TIMEOUT_S, upstream_timeout_s + 60))
    if reservation_timeout_s <= upstream_timeout_s:
        raise ConfigError("[gateway] reservation_timeout_s must exceed upstream_timeout_s, or a "
                          "reservation could lapse while its call is still running")
    upstream_client = gateway.get("upstream_client", "builtin")
    if upstream_client not in UPSTREAM_CLIENTS:
        raise ConfigError(f"[gateway] upstream_client must be one of "
                          f"{', '.join(UPSTREAM_CLIENTS)}, got {upstream_client!r}")
    upstreams = _upstreams(data.get("upstream", []))
    model_groups = _model_groups(data.get("model_group", []))
    x402 = _x402(_table(data, "x402"))
    measurements = _table(data, "factory").get("measurements", [])
    if not isinstance(measurements, list) or not all(isinstance(m, str) for m in measurements):
        raise ConfigError("[factory] measurements must be a list of file paths")
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
        routing=routing,
        upstream_timeout_s=upstream_timeout_s,
        reservation_timeout_s=reservation_timeout_s,
        upstream_client=str(upstream_client),
        upstreams=upstreams,
        model_groups=model_groups,
        x402=x402,
        factory_measurements=tuple(str(base / m) for m in measurements),
    )


def _positive(table: Mapping[str, Any], name: str, default: int) -> int:
    value = table.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= 86_400:
        raise ConfigError(f"[gateway] {name} must be an integer 1..86400 (seconds), got {value!r}")
    return value


_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


def _x402(table: Mapping[str, Any]) -> X402Settings:
    defaults = X402Settings()
    unknown = set(table) - set(X402Settings.__slots__)
    if unknown:
        raise ConfigError(f"[x402]: unknown field(s) {', '.join(sorted(unknown))}")
    values = {name: table.get(name, getattr(defaults, name))
              for name in X402Settings.__slots__}
    if not isinstance(values["enabled"], bool):
        raise ConfigError("[x402] enabled must be true or false")
    for name in ("facilitator_url", "network", "asset", "asset_name", "asset_version",
                 "pay_to"):
        if not isinstance(values[name], str):
            raise ConfigError(f"[x402] {name} must be a string")
    url = values["facilitator_url"]
    if url and not url.startswith(("http://", "https://")):
        raise ConfigError("[x402] facilitator_url must be an http(s) URL (or empty: local)")
    if not re.fullmatch(r"eip155:[0-9]+", values["network"]):
        raise ConfigError("[x402] network must be an EVM CAIP-2 id such as eip155:8453")
    for name in ("asset", "pay_to"):
        if not _ADDRESS.fullmatch(values[name]):
            raise ConfigError(f"[x402] {name} must be an address (0x and 40 hex digits)")
    timeout = values["max_timeout_s"]
    if isinstance(timeout, bool) or not isinstance(timeout, int) or not 10 <= timeout <= 3600:
        raise ConfigError("[x402] max_timeout_s must be an integer 10..3600 (seconds)")
    return X402Settings(**values)


QUALITY_TIERS = ("frontier", "standard", "economy")  # best first


def _model_groups(raw: Any) -> tuple[ModelGroup, ...]:
    if not isinstance(raw, list) or len(raw) > UPSTREAMS_MAX:
        raise ConfigError(f"[[model_group]] must be an array of at most {UPSTREAMS_MAX} tables")
    groups: list[ModelGroup] = []
    for i, table in enumerate(raw):
        where = f"[[model_group]] #{i + 1}"
        if not isinstance(table, Mapping):
            raise ConfigError(f"{where} must be a table")
        unknown = set(table) - {"name", "models", "routing", "quality"}
        if unknown:
            raise ConfigError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        name, models = table.get("name"), table.get("models")
        if not isinstance(name, str) or not name or any(g.name == name for g in groups):
            raise ConfigError(f"{where}: name must be a unique non-empty string")
        if not isinstance(models, list) or not models or not all(
                isinstance(m, str) and m for m in models):
            raise ConfigError(f"{where} ({name}): models must be a non-empty list of names")
        routing = table.get("routing", "")
        if routing and routing not in ROUTING_STRATEGIES:
            raise ConfigError(f"{where} ({name}): routing must be one of "
                              f"{', '.join(ROUTING_STRATEGIES)}")
        quality = table.get("quality", "")
        if quality and quality not in QUALITY_TIERS:
            raise ConfigError(f"{where} ({name}): quality must be one of "
                              f"{', '.join(QUALITY_TIERS)}")
        groups.append(ModelGroup(name, tuple(models), str(routing), str(quality)))
    return tuple(groups)


def _upstreams(raw: Any) -> tuple[UpstreamSpec, ...]:
    if not isinstance(raw, list) or len(raw) > UPSTREAMS_MAX:
        raise ConfigError(f"[[upstream]] must be an array of at most {UPSTREAMS_MAX} tables")
    specs: list[UpstreamSpec] = []
    for i, table in enumerate(raw):
        where = f"[[upstream]] #{i + 1}"
        if not isinstance(table, Mapping):
            raise ConfigError(f"{where} must be a table")
        unknown = set(table) - {"name", "kind", "base_url", "api_key_env", "models", "region",
                                "weight", "joules_per_token"}
        if unknown:
            raise ConfigError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        name, kind, base_url = (table.get(k) for k in ("name", "kind", "base_url"))
        if not isinstance(name, str) or not name or any(s.name == name for s in specs):
            raise ConfigError(f"{where}: name must be a unique non-empty string")
        if kind not in UPSTREAM_KINDS:
            raise ConfigError(f"{where} ({name}): kind must be one of {', '.join(UPSTREAM_KINDS)}")
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"{where} ({name}): base_url must be an http(s) URL")
        models = table.get("models", ["*"])
        if not isinstance(models, list) or not models or not all(
                isinstance(m, str) and m for m in models):
            raise ConfigError(f"{where} ({name}): models must be a non-empty list of names")
        weight = table.get("weight", 1)
        if isinstance(weight, bool) or not isinstance(weight, int) or not 0 < weight <= 1000:
            raise ConfigError(f"{where} ({name}): weight must be an integer 1..1000")
        joules = table.get("joules_per_token")
        try:
            jpt = None if joules is None else Decimal(str(joules))
        except InvalidOperation:
            jpt = Decimal(-1)
        if jpt is not None and (not jpt.is_finite() or jpt <= 0 or isinstance(joules, float)):
            raise ConfigError(f"{where} ({name}): joules_per_token must be a positive decimal "
                              "string such as \"0.4\"")
        specs.append(UpstreamSpec(
            name, kind, base_url.rstrip("/"), str(table.get("api_key_env", "")),
            tuple(models), str(table.get("region", "")), weight, jpt))
    return tuple(specs)
