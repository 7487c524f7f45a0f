"""The meter's record-level contracts, shared by the CLI and the HTTP API.

``normalize_record``: ``{"id", "provider", "api", "model", "usage": {native}}`` → the output
line ``{"id", "provider", "model", "tokens", "cache_write_ttl", "by_modality", "estimated"…}``
or ``{"id", "error": {"type", "message"}}``.

``count_items``: named items (text or bytes) → ``{"model", "input_tokens", "total_input_tokens",
"items"}``; text counts as raw text (no chat overhead), media by the model's rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tokenomy.meter.errors import MeterError, RequestError
from tokenomy.meter.estimate import count_document, count_media
from tokenomy.meter.media import Detail
from tokenomy.meter.models import ModelRules, resolve
from tokenomy.meter.normalize import normalize
from tokenomy.meter.probe import MediaError, probe
from tokenomy.meter.tokenizers import get_tokenizer

_RECORD_FIELDS = ("provider", "api", "usage")
COUNT_MODALITIES = ("text", "image", "audio", "video", "document")
_TEXT_SUFFIXES = {".txt", ".md", ".json", ".jsonl", ".csv", ".py", ".js", ".ts", ".html",
                  ".xml", ".yaml", ".yml", ".toml", ".rst", ".c", ".go", ".rs", ".java", ".svg"}


def error_line(record_id: Any, exc: Exception) -> dict[str, Any]:
    kind = getattr(exc, "type", "invalid_request")
    return {"id": record_id, "error": {"type": kind, "message": str(exc)}}


def normalize_record(record: Any) -> dict[str, Any]:
    """One normalize output line; never raises for bad input."""
    if not isinstance(record, Mapping):
        return error_line(None, RequestError("each record must be a JSON object"))
    record_id = record.get("id")
    try:
        for name in _RECORD_FIELDS:
            if name not in record:
                raise RequestError(f"record is missing {name!r}")
        provider, api, model = record["provider"], record["api"], record.get("model")
        if not isinstance(provider, str) or not isinstance(api, str):
            raise RequestError("provider and api must be strings")
        if model is not None and not isinstance(model, str):
            raise RequestError("model must be a string")
        if not isinstance(record["usage"], Mapping):
            raise RequestError("usage must be an object")
        usage = normalize(provider, api, record["usage"])
    except MeterError as exc:
        return error_line(record_id, exc)
    return {"id": record_id, "provider": provider, "model": model, **usage.to_json()}


@dataclass(frozen=True, slots=True)
class CountItem:
    """One thing to count: a file's bytes, or text."""

    name: str
    data: bytes | str
    detail: Detail = Detail.AUTO


def _looks_textual(item: CountItem) -> str | None:
    if isinstance(item.data, str):
        return item.data
    suffix = item.name[item.name.rfind(".") :].lower() if "." in item.name else ""
    if b"\x00" in item.data[:8192] and suffix not in _TEXT_SUFFIXES:
        return None
    try:
        text = item.data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text


def count_item(item: CountItem, rules: ModelRules) -> dict[str, Any]:
    """``{"path", "modality", "tokens", "method"}`` for one item."""
    if isinstance(item.data, bytes) and item.data[:5] == b"%PDF-":
        tokens = count_document(item.data, rules)
        return {"path": item.name, "modality": "document", "tokens": tokens, "method": "formula"}
    text = _looks_textual(item)
    if text is not None:
        tokenizer = get_tokenizer(rules.tokenizer)
        method = "exact" if tokenizer.exact else "estimate"
        return {"path": item.name, "modality": "text", "tokens": tokenizer.count(text),
                "method": method}
    assert isinstance(item.data, bytes)
    try:
        info = probe(item.data, item.name)
    except MediaError as exc:
        raise RequestError(f"{item.name}: {exc}") from None
    modality, tokens = count_media(info, rules, item.detail)
    return {"path": item.name, "modality": modality.value, "tokens": tokens, "method": "formula"}


def count_items(model: str, items: Iterable[CountItem]) -> dict[str, Any]:
    """The ``tokenomy count --json`` document; raises :class:`MeterError` on bad input."""
    rules = resolve(model)
    lines = [count_item(item, rules) for item in items]
    totals = dict.fromkeys(COUNT_MODALITIES, 0)
    for line in lines:
        totals[line["modality"]] += line["tokens"]
    return {
        "model": model,
        "input_tokens": totals,
        "total_input_tokens": sum(totals.values()),
        "items": lines,
    }
