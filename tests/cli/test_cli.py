"""The command line as a user types it (a real subprocess each time)."""

from __future__ import annotations

import json
import wave
from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess

from PIL import Image

Cli = Callable[..., CompletedProcess[str]]


def test_count_json_shape_for_text_image_and_audio(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "note.txt").write_text("hello world", encoding="utf-8")
    Image.new("RGB", (1024, 1024)).save(tmp_path / "pic.png")
    with wave.open(str(tmp_path / "voice.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\x00\x00" * 16000 * 3)  # 3 s
    result = cli(["count", "note.txt", "pic.png", "voice.wav", "--model", "gemini-2.5-flash",
                  "--json"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["model"] == "gemini-2.5-flash"
    assert body["input_tokens"]["image"] == 1032  # 2×2 tiles of 258 (token_facts §1b)
    assert body["input_tokens"]["audio"] == 96  # 32 tokens/s × 3 s
    assert body["input_tokens"]["video"] == 0
    assert body["total_input_tokens"] == sum(body["input_tokens"].values())
    methods = {i["path"]: i["method"] for i in body["items"]}
    assert methods == {"note.txt": "estimate", "pic.png": "formula", "voice.wav": "formula"}


def test_count_defaults_to_gpt_4o_and_counts_exactly(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Tokenomy counts tokens.", encoding="utf-8")
    result = cli(["count", "a.txt", "--json"], cwd=tmp_path)
    body = json.loads(result.stdout)
    assert body["model"] == "gpt-4o" and body["items"][0]["method"] == "exact"
    assert body["input_tokens"]["text"] == 5


def test_count_table_output(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("hi", encoding="utf-8")
    result = cli(["count", "a.txt"], cwd=tmp_path)
    assert result.returncode == 0 and "total" in result.stdout


def test_count_errors_go_to_stderr(cli: Cli, tmp_path: Path) -> None:
    missing = cli(["count", "nope.txt"], cwd=tmp_path)
    assert missing.returncode == 2 and "nope.txt" in missing.stderr and not missing.stdout
    (tmp_path / "a.txt").write_text("hi", encoding="utf-8")
    unknown = cli(["count", "a.txt", "--model", "gpt-99"], cwd=tmp_path)
    assert unknown.returncode == 2
    assert "gpt-99" in unknown.stderr and "tokenomy models" in unknown.stderr


def test_usage_normalize_processes_every_line(cli: Cli) -> None:
    lines = [
        {"id": "a", "provider": "openai", "api": "chat", "model": "gpt-4o",
         "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120,
                   "prompt_tokens_details": {"cached_tokens": 60}}},
        {"id": "b", "provider": "nobody", "api": "chat", "model": "x", "usage": {}},
        {"id": "c", "provider": "google", "api": "generate_content", "model": "gemini-2.5-pro",
         "usage": {"promptTokenCount": 10, "candidatesTokenCount": 5, "thoughtsTokenCount": 7}},
    ]
    stdin = "\n".join(json.dumps(line) for line in lines) + "\nnot json\n"
    result = cli(["usage", "normalize", "--json"], stdin=stdin)
    assert result.returncode == 1
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o.get("id") for o in out] == ["a", "b", "c", None]
    assert out[0]["tokens"] == {"input": 40, "cache_read": 60, "cache_write": 0, "output": 20,
                                "reasoning": 0}
    assert "nobody" in out[1]["error"]["message"]
    assert out[2]["tokens"]["reasoning"] == 7 and out[2]["tokens"]["output"] == 5
    assert out[3]["error"]["type"] == "invalid_json"
    assert "1 record" not in result.stderr and "2 record(s) failed" in result.stderr


def test_usage_normalize_all_good_exits_zero(cli: Cli) -> None:
    line = {"id": 1, "provider": "deepseek", "api": "chat", "model": "deepseek-chat",
            "usage": {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13,
                      "prompt_cache_hit_tokens": 4, "prompt_cache_miss_tokens": 6}}
    result = cli(["usage", "normalize"], stdin=json.dumps(line) + "\n")
    assert result.returncode == 0, result.stderr
    assert "Canonical usage" in result.stdout


def test_models_lists_every_provider(cli: Cli) -> None:
    body = json.loads(cli(["models", "--json"]).stdout)
    providers = {m["provider"] for m in body["models"]}
    assert providers == {"openai", "anthropic", "google", "deepseek", "qwen", "moonshot",
                         "minimax", "xai", "simulator"}
    bad = cli(["models", "--provider", "acme"])
    assert bad.returncode == 2 and "acme" in bad.stderr


def test_estimate_reads_a_request_body(cli: Cli) -> None:
    body = {"model": "claude-sonnet-4-5", "max_tokens": 1000,
            "thinking": {"type": "enabled", "budget_tokens": 600},
            "messages": [{"role": "user", "content": "Explain tokens."}]}
    result = cli(["estimate", "--api", "messages", "--json"], stdin=json.dumps(body))
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["tokens"]["reasoning"] == 600 and out["tokens"]["output"] == 400
    assert out["tokens"]["input"] > 0 and out["estimated"] is True
