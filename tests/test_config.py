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
