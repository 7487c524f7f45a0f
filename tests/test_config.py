"""Settings: built-in defaults < ``tokenomy.toml`` < environment, read once, checked at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from tokenomy.config import (
    DEFAULT_DATABASE_URL,
    DEFAULT_HOST,
    DEFAULT_MODEL,
    DEFAULT_PORT,
    ConfigError,
    Settings,
    load_settings,
)

FULL = """\
[server]
host = "0.0.0.0"
port = 9000

[database]
url = "sqlite:////var/lib/tokenomy/file.db"

[meter]
default_model = "claude-sonnet-4-5"

[pricing]
books = ["negotiated.toml", "books/resale.toml", "/etc/tokenomy/global.toml"]
unpriced = "hold"
"""


def _config(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "tokenomy.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_a_file_or_environment(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no ./tokenomy.toml here
    settings = load_settings(env={})
    assert settings == Settings()
    assert (settings.host, settings.port, settings.database_url, settings.default_model) == (
        DEFAULT_HOST, DEFAULT_PORT, DEFAULT_DATABASE_URL, DEFAULT_MODEL)
    assert settings.pricing_books == () and settings.unpriced == "block"
    assert settings.config_path is None


def test_the_file_overrides_the_defaults(tmp_path: Path) -> None:
    path = _config(tmp_path / "etc", FULL)
    settings = load_settings(env={}, config_path=path)
    assert settings.host == "0.0.0.0" and settings.port == 9000
    assert settings.database_url == "sqlite:////var/lib/tokenomy/file.db"
    assert settings.default_model == "claude-sonnet-4-5"
    assert settings.unpriced == "hold"
    assert settings.config_path == str(path)
    # Books are relative to the config file's folder, not to the working directory.
    assert settings.pricing_books == (str(tmp_path / "etc" / "negotiated.toml"),
                                      str(tmp_path / "etc" / "books" / "resale.toml"),
                                      "/etc/tokenomy/global.toml")


def test_the_environment_overrides_the_file(tmp_path: Path) -> None:
    path = _config(tmp_path, FULL)
    env = {"TOKENOMY_HOST": "::1", "TOKENOMY_PORT": "8500",
           "TOKENOMY_DATABASE_URL": "sqlite:///other.db", "TOKENOMY_UNPRICED": "block"}
    settings = load_settings(env=env, config_path=path)
    assert settings.host == "::1" and settings.port == 8500
    assert settings.database_url == "sqlite:///other.db" and settings.unpriced == "block"
    assert settings.default_model == "claude-sonnet-4-5"  # only in the file
    # …and flags override both.
    assert settings.with_overrides(port=1234, host=None).port == 1234
    assert settings.with_overrides(port=1234, host=None).host == "::1"


def test_the_config_file_can_be_named_by_the_environment(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    _config(tmp_path, '[server]\nport = 1111\n')  # ./tokenomy.toml, found by default
    assert load_settings(env={}).port == 1111
    named = _config(tmp_path / "elsewhere",
                    '[server]\nport = 2222\n[pricing]\nbooks = ["b.toml"]\n')
    settings = load_settings(env={"TOKENOMY_CONFIG": str(named)})
    assert settings.port == 2222 and settings.config_path == str(named)
    assert settings.pricing_books == (str(tmp_path / "elsewhere" / "b.toml"),)
    # An explicit path beats the variable.
    assert load_settings(env={"TOKENOMY_CONFIG": str(named)},
                         config_path=tmp_path / "tokenomy.toml").port == 1111


def test_a_missing_explicit_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(env={}, config_path=tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(env={"TOKENOMY_CONFIG": str(tmp_path / "nope.toml")})


@pytest.mark.parametrize(("text", "env", "message"), [
    ('[pricing]\nunpriced = "ignore"\n', {}, "unpriced"),
    ("", {"TOKENOMY_UNPRICED": "free"}, "unpriced"),
    ('[server]\nport = "http"\n', {}, "port"),
    ("[server]\nport = 70000\n", {}, "port"),
    ("[server]\nport = -1\n", {}, "port"),
    ("", {"TOKENOMY_PORT": "eighty"}, "port"),
    ("", {"TOKENOMY_PORT": "65536"}, "port"),
    ('[pricing]\nbooks = "one.toml"\n', {}, "books"),
    ("[pricing]\nbooks = [1, 2]\n", {}, "books"),
    ('pricing = "hold"\n', {}, r"\[pricing\]"),
    ("[server\nport = 1\n", {}, "tokenomy.toml"),
])
def test_bad_settings_are_config_errors(tmp_path: Path, text: str, env: dict[str, str],
                                        message: str) -> None:
    path = _config(tmp_path, text)
    with pytest.raises(ConfigError, match=message):
        load_settings(env=env, config_path=path)


def test_port_bounds_are_inclusive(tmp_path: Path) -> None:
    path = _config(tmp_path, "")
    assert load_settings(env={"TOKENOMY_PORT": "0"}, config_path=path).port == 0
    assert load_settings(env={"TOKENOMY_PORT": "65535"}, config_path=path).port == 65535


@pytest.mark.parametrize("value", ["8402.9", "true"])
def test_a_port_that_is_not_an_integer_is_refused(tmp_path: Path, value: str) -> None:
    path = _config(tmp_path, f"[server]\nport = {value}\n")
    with pytest.raises(ConfigError, match="port"):
        load_settings(env={}, config_path=path)


GATEWAY = """\
[gateway]
routing = "fastest"
upstream_timeout_s = 30
reservation_timeout_s = 120
upstream_client = "httpx"

[[upstream]]
name = "openai"
kind = "openai"
base_url = "https://api.openai.com/v1/"
api_key_env = "OPENAI_API_KEY"
models = ["gpt-4o"]
region = "us"
weight = 3
joules_per_token = "0.4"

[[upstream]]
name = "local"
kind = "anthropic"
base_url = "http://127.0.0.1:8500"

[[model_group]]
name = "auto"
models = ["gpt-4o", "sim-small"]
quality = "standard"
"""


def test_upstreams_and_model_groups_are_read(tmp_path: Path) -> None:
    from decimal import Decimal

    path = tmp_path / "tokenomy.toml"
    path.write_text(GATEWAY)
    s = load_settings(env={}, config_path=path)
    assert (s.routing, s.upstream_timeout_s, s.reservation_timeout_s) == ("fastest", 30, 120)
    assert s.upstream_client == "httpx" and Settings().upstream_client == "builtin"
    openai, local = s.upstreams
    assert openai.base_url == "https://api.openai.com/v1" and openai.weight == 3
    assert openai.joules_per_token == Decimal("0.4") and openai.models == ("gpt-4o",)
    assert local.models == ("*",) and local.api_key_env == ""
    assert s.model_groups[0].models == ("gpt-4o", "sim-small")
    assert s.model_groups[0].quality == "standard" and s.model_groups[0].routing == ""


@pytest.mark.parametrize("text, message", [
    ('[gateway]\nrouting = "random"', "routing"),
    ('[gateway]\nupstream_timeout_s = 0', "upstream_timeout_s"),
    ('[gateway]\nupstream_client = "aiohttp"', "upstream_client"),
    ('[gateway]\nupstream_timeout_s = 600\nreservation_timeout_s = 600', "must exceed"),
    ('[[upstream]]\nname = "a"\nkind = "gemini"\nbase_url = "http://x"', "kind"),
    ('[[upstream]]\nname = "a"\nkind = "openai"\nbase_url = "ftp://x"', "base_url"),
    ('[[upstream]]\nname = "a"\nkind = "openai"\nbase_url = "http://x"\nmodels = []', "models"),
    ('[[upstream]]\nname = "a"\nkind = "openai"\nbase_url = "http://x"\nweight = 0', "weight"),
    ('[[upstream]]\nname = "a"\nkind = "openai"\nbase_url = "http://x"\n'
     'joules_per_token = 0.4', "joules_per_token"),
    ('[[upstream]]\nname = "a"\nkind = "openai"\nbase_url = "http://x"\nkey = "sk-1"', "unknown"),
    ('[[upstream]]\nname = "a"\nkind = "openai"\nbase_url = "http://x"\n'
     '[[upstream]]\nname = "a"\nkind = "openai"\nbase_url = "http://y"', "unique"),
    ('[[model_group]]\nname = "g"\nmodels = ["a"]\nquality = "best"', "quality"),
    ('[[model_group]]\nname = "g"\nmodels = "a"', "models"),
])
def test_bad_gateway_settings_are_config_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "tokenomy.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_settings(env={}, config_path=path)
