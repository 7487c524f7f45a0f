"""A local Hugging Face model as the load (the ``local`` extra: torch, transformers).

``--local NAME_OR_CONFIG``: a model id or folder (``from_pretrained``), or a ``config.json``
file (random weights in that shape: same bytes and FLOPs as trained ones). Each batch runs a
greedy decode loop with random prompt ids for the window; the meter reads the GPU meanwhile.
"""

from __future__ import annotations

import importlib
import time
from pathlib import Path
from typing import Any

from tokenomy.energy import Meter
from tokenomy.energy.load import Progress
from tokenomy.factory.measure import BatchRun

PROMPT_TOKENS = 512
STEPS_PER_CALL = 16


class LocalModelError(RuntimeError):
    """The local path cannot run: torch/transformers missing, or the model does not load."""


def _modules() -> tuple[Any, Any]:
    try:
        return importlib.import_module("torch"), importlib.import_module("transformers")
    except ImportError:
        raise LocalModelError(
            "--local needs torch and transformers: pip install 'tokenomy[local]'") from None


def load_model(name_or_config: str) -> tuple[Any, Any]:
    """(torch, model) on the GPU if there is one, in bf16, in eval mode."""
    torch, transformers = _modules()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        with torch.device(device):
            if name_or_config.endswith(".json") and Path(name_or_config).is_file():
                config = transformers.AutoConfig.from_pretrained(name_or_config)
                model = transformers.AutoModelForCausalLM.from_config(
                    config, torch_dtype=torch.bfloat16)
            else:
                model = transformers.AutoModelForCausalLM.from_pretrained(
                    name_or_config, torch_dtype=torch.bfloat16)
    except (OSError, ValueError) as exc:
        raise LocalModelError(f"cannot load {name_or_config}: {exc}") from None
    return torch, model.eval()


def run_local_batch(torch: Any, model: Any, batch: int, seconds: float,
                    meter: Meter, progress: Progress | None = None) -> BatchRun:
    """Decode ``batch`` sequences greedily for ``seconds`` (a fresh prompt per call of
    ``STEPS_PER_CALL`` steps), counting the generated tokens."""
    device = next(model.parameters()).device
    vocab = int(model.config.vocab_size)
    tokens = calls = 0
    with torch.inference_mode():
        meter.begin()
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            ids = torch.randint(0, vocab, (batch, PROMPT_TOKENS), device=device)
            out = model.generate(ids, max_new_tokens=STEPS_PER_CALL, min_new_tokens=STEPS_PER_CALL,
                                 do_sample=False, pad_token_id=0)
            if device.type == "cuda":
                torch.cuda.synchronize()
            tokens += batch * (int(out.shape[1]) - PROMPT_TOKENS)
            calls += 1
            meter.poll()
            if progress is not None:
                progress(min(time.monotonic() - started, seconds), tokens)
        reading = meter.end()
    return BatchRun(batch, tokens, calls, 0, reading)
