"""Image, audio and video token rules: pure formulas, no I/O.

In: media facts (pixel ``width``/``height``, ``duration_ms`` as an integer, ``has_audio``), the
request's ``detail`` / ``media_resolution`` and a rule object (one of the presets below).
Out: an ``int`` token count.

Every count is an upper bound on what the provider bills, because budgets reserve on it:
exact rational arithmetic (``Fraction``, ``math.isqrt``, ``Decimal``) replaces the floats of the
published algorithms, scaled pixel sizes and fractional token counts round *up*, and where a
rule is a third-party approximation (Gemini 2.x tiles) the comment says so. No float touches a
result.

Sources (stored copies, see ``shared/reference/token_facts.md`` §1–3):

* OpenAI tiles and patches: platform.openai.com/docs/guides/vision#calculating-costs (doc test
  vectors 765, 1105, 85; 1024 and 1452 patches); ``openai_image_token_counter-1.0.0``
  ``token_config.mdx``; LiteLLM 1.110.2 ``litellm_core_utils/token_counter.py``.
* Anthropic: docs.claude.com/en/docs/vision (tokens ≈ w·h/750; long edge 1568; ~1,600 tokens).
* Gemini: ai.google.dev/gemini-api/docs/tokens, /video-understanding, /media-resolution,
  /gemini-3; google-genai 3.6.1 ``types.MediaResolution`` docstrings.
* Qwen-VL: huggingface/transformers ``models/qwen2_vl/image_processing_qwen2_vl.py``
  (``smart_resize``) and ``qwen_vl_utils``.
* Audio: developers.openai.com/api/docs/guides/realtime-costs; Gemini tokens doc (32/s).

One module past the ~500-line mark: the three modalities share the rounding helpers and video
reuses the per-second audio rule, and about half of it is presets with their sources.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from types import MappingProxyType
from typing import Literal

from tokenomy._invariant import invariant

__all__ = [
    "ANTHROPIC_HIGH_RES_IMAGE",
    "ANTHROPIC_IMAGE",
    "GEMINI_2_IMAGE",
    "GEMINI_2_VIDEO",
    "GEMINI_3_IMAGE",
    "GEMINI_3_VIDEO",
    "GEMINI_AUDIO",
    "OPENAI_AUDIO",
    "OPENAI_PATCH_MULTIPLIERS",
    "OPENAI_PATCH_RULES",
    "OPENAI_TILE_RULES",
    "QWEN2_5_VL",
    "QWEN2_VL",
    "QWEN3_VL",
    "AnthropicImageRule",
    "AudioRule",
    "Detail",
    "GeminiImageRule",
    "ImageRule",
    "MediaResolution",
    "OpenAIPatchRule",
    "OpenAITileRule",
    "PatchLimit",
    "QwenVLRule",
    "VideoRule",
    "audio_tokens",
    "image_tokens",
    "openai_patches",
    "qwen_grid",
    "video_frames",
    "video_tokens",
]


class Detail(StrEnum):
    """OpenAI's ``image_url.detail``. ``AUTO`` is counted as the rule's costliest default."""

    LOW = "low"
    HIGH = "high"
    AUTO = "auto"
    ORIGINAL = "original"


class MediaResolution(StrEnum):
    """Gemini's ``media_resolution`` (``MEDIA_RESOLUTION_LOW`` … ``ULTRA_HIGH``)."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    ULTRA_HIGH = "ultra_high"


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _ceil_sqrt_upper(num: int, den: int) -> int:
    """⌈√(num/den)⌉, except ``√x + 1`` when x = num/den is a perfect square.

    A float ``ceil(sqrt(...))`` lands on either side of an exact integer root, so the larger
    value is the one that can never under-count. Elsewhere the root is irrational and at least
    1/(den·(2√x+1)) from any integer, far beyond float error, so both agree.
    """
    # ⌊√⌊x⌋⌋ = ⌊√x⌋, and ⌊√x⌋ + 1 is ⌈√x⌉ off squares and √x + 1 on them.
    return math.isqrt(num // den) + 1


def _check_size(width: int, height: int) -> None:
    invariant(width >= 1 and height >= 1, f"image size must be positive, got {width}×{height}")


# --- OpenAI: 512-px tiles ----------------------------------------------------------------------

OPENAI_TILE_PX = 512


@dataclass(frozen=True, slots=True)
class OpenAITileRule:
    """Fit in ``max_side``², shrink the short side to ``short_side``, ``base + tile·tiles``."""

    base: int
    tile: int
    short_side: int = 768
    max_side: int = 2048

    def __post_init__(self) -> None:
        invariant(self.base >= 0 and self.tile >= 0, "tile costs must be non-negative")
        invariant(self.short_side >= 1 and self.max_side >= 1, "tile sides must be positive")


def _openai_tile_tokens(rule: OpenAITileRule, width: int, height: int, detail: Detail) -> int:
    if detail is Detail.LOW:
        return rule.base
    # Downscale only (a 512² image stays one tile: doc vector 255 for gpt-4o); LiteLLM writes
    # the two doc steps as one scale = min(1, max_side/long, short_side/short).
    scale = min(
        Fraction(1),
        Fraction(rule.max_side, max(width, height)),
        Fraction(rule.short_side, min(width, height)),
    )
    # Exact scaled sizes, ceil'd per axis: never fewer tiles than any rounding of the resize.
    tiles = math.ceil(width * scale / OPENAI_TILE_PX) * math.ceil(height * scale / OPENAI_TILE_PX)
    return rule.base + rule.tile * tiles


# Sources: OpenAI vision doc (gpt-4o 85/170 and its test vectors); token_config.mdx (dated
# 2025-10-03, "Official OpenAI Vision API Documentation") and LiteLLM ``_TILE_IMAGE_TOKEN_COSTS``
# for the others. gpt-image-1 input: short side 512, 1024² → 194 confirmed by API usage
# (community.openai.com/t/vision-pricing-calculator-inaccurate-resizing-rounding-vs-api-costs).
_GPT_4O = OpenAITileRule(base=85, tile=170)
_O_SERIES = OpenAITileRule(base=75, tile=150)
_GPT_5 = OpenAITileRule(base=70, tile=140)
_CUA = OpenAITileRule(base=65, tile=129)
OPENAI_TILE_RULES: MappingProxyType[str, OpenAITileRule] = MappingProxyType(
    {
        "gpt-4o": _GPT_4O,
        "gpt-4.1": _GPT_4O,
        "gpt-4.5": _GPT_4O,
        "gpt-4-turbo": _GPT_4O,
        "gpt-4o-mini": OpenAITileRule(base=2833, tile=5667),
        "o1": _O_SERIES,
        "o1-pro": _O_SERIES,
        "o3": _O_SERIES,
        "gpt-5": _GPT_5,
        "gpt-5.1": _GPT_5,
        "gpt-5-chat-latest": _GPT_5,
        "computer-use-preview": _CUA,
        "gpt-image-1": OpenAITileRule(base=65, tile=129, short_side=512),
    }
)


# --- OpenAI: 32-px patches ---------------------------------------------------------------------

OPENAI_PATCH_PX = 32


@dataclass(frozen=True, slots=True)
class PatchLimit:
    """A patch budget and the square the image is first fitted in (``None``: no fit)."""

    patch_budget: int
    max_dim: int | None = None

    def __post_init__(self) -> None:
        invariant(self.patch_budget >= 1, "patch budget must be positive")
        invariant(self.max_dim is None or self.max_dim >= 1, "max_dim must be positive")


@dataclass(frozen=True, slots=True)
class OpenAIPatchRule:
    """``ceil(patches(w, h, budget) × multiplier)``; ``detail`` picks a limit from ``by_detail``.

    ``by_detail`` overrides (``patch_budget``, ``max_dim``) per detail value for models whose
    detail matters (gpt-5.4+); a detail it does not name uses the defaults. On the classic patch
    models (gpt-4.1-mini/nano, o4-mini) ``detail`` has no effect, so ``by_detail`` is empty.
    """

    multiplier: Decimal
    patch_budget: int = 1536
    max_dim: int | None = None
    by_detail: tuple[tuple[Detail, PatchLimit], ...] = ()

    def __post_init__(self) -> None:
        invariant(self.multiplier.is_finite() and self.multiplier > 0,
                  "patch multiplier must be a positive finite Decimal")
        invariant(self.patch_budget >= 1, "patch budget must be positive")
        names = [d for d, _ in self.by_detail]
        invariant(len(names) == len(set(names)), "by_detail names a detail twice")

    def limit(self, detail: Detail) -> PatchLimit:
        for name, limit in self.by_detail:
            if name is detail:
                return limit
        return PatchLimit(self.patch_budget, self.max_dim)


def openai_patches(width: int, height: int, patch_budget: int = 1536,
                   max_dim: int | None = None) -> int:
    """Number of 32-px patches per OpenAI's doc algorithm, computed exactly.

    Doc: if ⌈w/32⌉·⌈h/32⌉ > B, r = √(32²·B/(w·h)); r ·= min(⌊w·r/32⌋/(w·r/32),
    ⌊h·r/32⌋/(h·r/32)); w', h' = ⌊w·r⌋, ⌊h·r⌋; patches = ⌈w'/32⌉·⌈h'/32⌉, capped at B.

    Since w·r/32 = √(B·w/h), ⌊w·r/32⌋ = isqrt(⌊B·w/h⌋) exactly, and the side with the smaller
    ratio lands on exactly 32·k pixels, so the other side is the rational 32·k·h/w: no square
    root is ever rounded. (Each k is at least 1, so an extreme aspect ratio cannot give 0.)
    """
    _check_size(width, height)
    p = OPENAI_PATCH_PX
    if max_dim is not None and max(width, height) > max_dim:
        scale = Fraction(max_dim, max(width, height))
        width, height = math.ceil(width * scale), math.ceil(height * scale)
    patches = _ceil_div(width, p) * _ceil_div(height, p)
    if patches <= patch_budget:
        return patches
    k_w = max(1, math.isqrt(patch_budget * width // height))
    k_h = max(1, math.isqrt(patch_budget * height // width))
    # ratio_w = k_w/√(B·w/h) ≤ ratio_h = k_h/√(B·h/w)  ⇔  k_w²·h² ≤ k_h²·w²
    if k_w * k_w * height * height <= k_h * k_h * width * width:
        patches = k_w * _ceil_div((height * p * k_w) // width, p)
    else:
        patches = _ceil_div((width * p * k_h) // height, p) * k_h
    return min(patches, patch_budget)


def _openai_patch_tokens(rule: OpenAIPatchRule, width: int, height: int, detail: Detail) -> int:
    limit = rule.limit(detail)
    patches = openai_patches(width, height, limit.patch_budget, limit.max_dim)
    # Decimal → Fraction is exact, so no decimal context (precision, traps) is involved.
    return math.ceil(patches * Fraction(rule.multiplier))


# Documented multipliers (token_config.mdx; srinathmkce/imagetoken config.py; OpenAI doc text).
# gpt-5-mini/nano: the docs say 1.62 / 2.46 while observed billing is 1.2 / 1.5
# (community.openai.com/t/introducing-gpt-5-4-mini-and-nano…/1377015). We keep the documented,
# larger values so a reservation never falls short. gpt-5.4 family: 1.2 per LiteLLM 1.110.2
# ``_PATCH_IMAGE_MULTIPLIERS`` and the same thread (not in an OpenAI doc we could read).
OPENAI_PATCH_MULTIPLIERS: MappingProxyType[str, Decimal] = MappingProxyType(
    {
        "gpt-4.1-mini": Decimal("1.62"),
        "gpt-4.1-nano": Decimal("2.46"),
        "o4-mini": Decimal("1.72"),
        "gpt-5-mini": Decimal("1.62"),
        "gpt-5-nano": Decimal("2.46"),
        "gpt-5.4": Decimal("1.2"),
    }
)

# gpt-5.4+ limits per LiteLLM 1.110.2 ``token_counter.py::_patch_image_limits`` (third-party;
# the 10,000-patch cap for ``original`` also in openai/codex PR 19865): high = 2,500 patches in
# 2048², original = 10,000 patches in 6000². ``auto`` is counted as ``high`` (the larger of the
# non-original budgets). LOW keeps the classic 1,536 budget.
_GPT_5_4_LIMITS = (
    (Detail.HIGH, PatchLimit(2500, 2048)),
    (Detail.AUTO, PatchLimit(2500, 2048)),
    (Detail.ORIGINAL, PatchLimit(10_000, 6000)),
)
OPENAI_PATCH_RULES: MappingProxyType[str, OpenAIPatchRule] = MappingProxyType(
    {
        name: OpenAIPatchRule(
            multiplier=m, by_detail=_GPT_5_4_LIMITS if name == "gpt-5.4" else ()
        )
        for name, m in OPENAI_PATCH_MULTIPLIERS.items()
    }
)


# --- Anthropic -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AnthropicImageRule:
    """``min(tokens_max, ⌈w'·h'/px_per_token⌉)`` after fitting the long edge."""

    px_per_token: int = 750
    long_edge_max: int = 1568
    tokens_max: int = 1600

    def __post_init__(self) -> None:
        invariant(self.px_per_token >= 1, "px_per_token must be positive")
        invariant(self.long_edge_max >= 1 and self.tokens_max >= 1, "limits must be positive")


def _anthropic_tokens(rule: AnthropicImageRule, width: int, height: int) -> int:
    # Anthropic shrinks images over the long-edge limit or over ~1,600 tokens, keeping aspect;
    # shrinking for the token cap lands at the cap, so the cap is a ``min``. Scaled sizes are
    # rounded up, so any integer resize Anthropic picks costs no more than this.
    scale = min(Fraction(1), Fraction(rule.long_edge_max, max(width, height)))
    w, h = math.ceil(width * scale), math.ceil(height * scale)
    return min(rule.tokens_max, _ceil_div(w * h, rule.px_per_token))


# Claude 3.x / 4.x up to 4.6: docs.claude.com/en/docs/vision.
ANTHROPIC_IMAGE = AnthropicImageRule()
# Claude ≥ 4.7 high-resolution vision: long edge 2576, 4,784 tokens (LiteLLM 1.110.2
# ``_ANTHROPIC_IMAGE_LIMITS``; third-party, not verified against an Anthropic page).
ANTHROPIC_HIGH_RES_IMAGE = AnthropicImageRule(long_edge_max=2576, tokens_max=4784)


# --- Gemini --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GeminiImageRule:
    """Gemini image tokens for model ``generation`` 2 (2.0/2.5) or 3 (3.x)."""

    generation: int

    def __post_init__(self) -> None:
        invariant(self.generation in (2, 3), f"Gemini generation must be 2 or 3, not {self}")


GEMINI_2_SMALL_PX = 384
GEMINI_2_TILE_PX = 768
GEMINI_2_TILE_TOKENS = 258
# google-genai 3.6.1 ``MediaResolution`` docstrings: LOW "64 tokens", MEDIUM "256 tokens",
# HIGH "zoomed reframing with 256 tokens".
_GEMINI_2_RESOLUTION = MappingProxyType({MediaResolution.LOW: 64, MediaResolution.MEDIUM: 256})
# ai.google.dev/gemini-api/docs/media-resolution (Gemini 3): images LOW 280, MEDIUM 560,
# HIGH 1120 (the image default), ULTRA_HIGH 2240 (per part only).
_GEMINI_3_IMAGE = MappingProxyType({
    MediaResolution.LOW: 280,
    MediaResolution.MEDIUM: 560,
    MediaResolution.HIGH: 1120,
    MediaResolution.ULTRA_HIGH: 2240,
})


def _gemini_tokens(rule: GeminiImageRule, width: int, height: int,
                   resolution: MediaResolution | None) -> int:
    if rule.generation == 3:
        return _GEMINI_3_IMAGE[resolution or MediaResolution.HIGH]
    if resolution is not None and resolution in _GEMINI_2_RESOLUTION:
        return _GEMINI_2_RESOLUTION[resolution]
    # Default, HIGH and ULTRA_HIGH. Doc: 258 if both sides ≤ 384, else "cropped and scaled as
    # needed into tiles of 768×768, each 258 tokens". The crop rule is not published; the
    # ceil-tiles count is a third-party approximation that rounds up (it is ≥ 256, the doc's HIGH
    # figure, because "zoomed reframing" may add crops).
    if width <= GEMINI_2_SMALL_PX and height <= GEMINI_2_SMALL_PX:
        return GEMINI_2_TILE_TOKENS
    tiles = _ceil_div(width, GEMINI_2_TILE_PX) * _ceil_div(height, GEMINI_2_TILE_PX)
    return tiles * GEMINI_2_TILE_TOKENS


GEMINI_2_IMAGE = GeminiImageRule(generation=2)
GEMINI_3_IMAGE = GeminiImageRule(generation=3)


# --- Qwen-VL (self-hosted or DashScope) ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QwenVLRule:
    """``smart_resize`` to multiples of ``factor`` within [min_pixels, max_pixels]; one token per
    ``factor``² pixels, plus ``special_tokens`` (``<|vision_start|>``, ``<|vision_end|>``)."""

    factor: int = 28
    min_pixels: int = 3136
    max_pixels: int = 1_003_520
    special_tokens: int = 2

    def __post_init__(self) -> None:
        invariant(self.factor >= 1, "factor must be positive")
        invariant(1 <= self.min_pixels <= self.max_pixels, "need 1 <= min_pixels <= max_pixels")
        invariant(self.special_tokens >= 0, "special_tokens must be non-negative")


def qwen_grid(rule: QwenVLRule, width: int, height: int) -> tuple[int, int]:
    """Resized (width, height) of ``smart_resize``, exactly (transformers uses floats).

    round() is half-to-even in both Python float and ``Fraction``. ⌊h/β/f⌋ with
    β = √(h·w/max) equals isqrt(⌊h·max/(w·f²)⌋): never below the float result (which can only
    slip under an exact integer root). The min-pixels ceil takes the upper of the two values a
    float can give at an exact root. So the grid is never smaller than transformers' float one.
    The aspect-ratio limit (200) that transformers enforces is the provider's to reject.
    """
    _check_size(width, height)
    f = rule.factor
    # ``max(f, …)`` as in qwen_vl_utils (transformers may round a thin side to 0 first; the
    # qwen_vl_utils result is never smaller).
    h_bar = max(f, round(Fraction(height, f)) * f)
    w_bar = max(f, round(Fraction(width, f)) * f)
    if h_bar * w_bar > rule.max_pixels:
        h_bar = max(f, math.isqrt(height * rule.max_pixels // (width * f * f)) * f)
        w_bar = max(f, math.isqrt(width * rule.max_pixels // (height * f * f)) * f)
    elif h_bar * w_bar < rule.min_pixels:
        h_bar = _ceil_sqrt_upper(height * rule.min_pixels, width * f * f) * f
        w_bar = _ceil_sqrt_upper(width * rule.min_pixels, height * f * f) * f
    return w_bar, h_bar


def _qwen_tokens(rule: QwenVLRule, width: int, height: int) -> int:
    w_bar, h_bar = qwen_grid(rule, width, height)
    return (w_bar // rule.factor) * (h_bar // rule.factor) + rule.special_tokens


# Qwen2-VL / Qwen2.5-VL: 14-px patches merged 2×2 → 28 px per token; processor defaults
# min 56² px, max 28²·1280 px (transformers ``image_processing_qwen2_vl.py``).
QWEN2_VL = QwenVLRule()
QWEN2_5_VL = QwenVLRule()
# Qwen3-VL: 16-px patches merged 2×2 → 32 px per token; min/max pixels from the Qwen3-VL
# tokenizer_config (262,144 / 1,310,720 = 32²·1280). Deployments can change both.
QWEN3_VL = QwenVLRule(factor=32, min_pixels=262_144, max_pixels=1_310_720)


# --- images: dispatch ----------------------------------------------------------------------------

ImageRule = OpenAITileRule | OpenAIPatchRule | AnthropicImageRule | GeminiImageRule | QwenVLRule


def image_tokens(rule: ImageRule, width: int, height: int, detail: Detail = Detail.AUTO,
                 resolution: MediaResolution | None = None) -> int:
    """Input tokens for one ``width``×``height`` image under ``rule``.

    ``detail`` matters to OpenAI rules only (``AUTO``/``ORIGINAL`` count as high on tile
    models); ``resolution`` to Gemini only. Both are ignored elsewhere.
    """
    _check_size(width, height)
    if isinstance(rule, OpenAITileRule):
        tokens = _openai_tile_tokens(rule, width, height, detail)
    elif isinstance(rule, OpenAIPatchRule):
        tokens = _openai_patch_tokens(rule, width, height, detail)
    elif isinstance(rule, AnthropicImageRule):
        tokens = _anthropic_tokens(rule, width, height)
    elif isinstance(rule, GeminiImageRule):
        tokens = _gemini_tokens(rule, width, height, resolution)
    else:
        tokens = _qwen_tokens(rule, width, height)
    invariant(tokens >= 1, f"image tokens must be positive, got {tokens}")
    return tokens


# --- audio ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AudioRule:
    """Audio tokens per second of input (user) and output (assistant) audio."""

    input_per_second: int
    output_per_second: int

    def __post_init__(self) -> None:
        invariant(self.input_per_second >= 0 and self.output_per_second >= 0,
                  "audio rates must be non-negative")


def _per_second(duration_ms: int, per_second: int) -> int:
    invariant(duration_ms >= 0, f"duration must be non-negative, got {duration_ms} ms")
    return _ceil_div(duration_ms * per_second, 1000)


def audio_tokens(rule: AudioRule, duration_ms: int,
                 direction: Literal["input", "output"]) -> int:
    """``⌈duration_ms · rate / 1000⌉`` for the rate of ``direction``."""
    invariant(direction in ("input", "output"), f"unknown audio direction {direction!r}")
    rate = rule.input_per_second if direction == "input" else rule.output_per_second
    return _per_second(duration_ms, rate)


# Gemini: 32 tokens/s, all 1.5/2.x/3.x models, independent of media_resolution (tokens doc);
# Gemini does not emit audio tokens in chat, the output rate is given for symmetry.
GEMINI_AUDIO = AudioRule(input_per_second=32, output_per_second=32)
# OpenAI realtime / gpt-4o-audio / gpt-audio: "1 token per 100 ms" in user messages, "1 token
# per 50 ms" in assistant messages (realtime-costs doc). Special tokens around content are extra.
OPENAI_AUDIO = AudioRule(input_per_second=10, output_per_second=20)


# --- video ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VideoRule:
    """Frames sampled at ``fps_num/fps_den`` × tokens per frame, plus audio per second.

    ``tokens_per_frame`` is the default (unset or ``MEDIUM`` resolution); ``LOW`` uses
    ``low_tokens_per_frame`` and ``HIGH``/``ULTRA_HIGH`` use ``high_tokens_per_frame`` when set.
    """

    tokens_per_frame: int
    fps_num: int = 1
    fps_den: int = 1
    audio_per_second: int = 32
    low_tokens_per_frame: int | None = None
    high_tokens_per_frame: int | None = None

    def __post_init__(self) -> None:
        invariant(self.fps_num >= 1 and self.fps_den >= 1, "sampling rate must be positive")
        rates = (self.tokens_per_frame, self.audio_per_second,
                 self.low_tokens_per_frame or 0, self.high_tokens_per_frame or 0)
        invariant(min(rates) >= 0, "video token rates must be non-negative")

    def per_frame(self, resolution: MediaResolution | None) -> int:
        if resolution is MediaResolution.LOW and self.low_tokens_per_frame is not None:
            return self.low_tokens_per_frame
        high = (MediaResolution.HIGH, MediaResolution.ULTRA_HIGH)
        if resolution in high and self.high_tokens_per_frame is not None:
            return self.high_tokens_per_frame
        return self.tokens_per_frame


def video_frames(rule: VideoRule, duration_ms: int) -> int:
    """Sampled frames: ``⌈duration · fps⌉``, and at least one (a video part has a frame)."""
    invariant(duration_ms >= 0, f"duration must be non-negative, got {duration_ms} ms")
    return max(1, _ceil_div(duration_ms * rule.fps_num, 1000 * rule.fps_den))


def video_tokens(rule: VideoRule, duration_ms: int, has_audio: bool,
                 resolution: MediaResolution | None = None) -> int:
    """Frame tokens plus, when ``has_audio``, ``⌈duration_ms · audio_per_second / 1000⌉``."""
    frames = video_frames(rule, duration_ms)
    audio = _per_second(duration_ms, rule.audio_per_second) if has_audio else 0
    return frames * rule.per_frame(resolution) + audio


# Gemini 2.0/2.5: 1 fps, 258 tokens/frame (66 at LOW), audio 32/s (video-understanding doc).
# Timestamps (~7 tokens each, third-party) are not counted; the doc's own 263/s total is below
# 258 + 32, so the sum is still an upper bound.
GEMINI_2_VIDEO = VideoRule(tokens_per_frame=258, low_tokens_per_frame=66)
# Gemini 3.x: 70/frame at LOW and MEDIUM (also the observed default), 280 at HIGH
# (media-resolution doc; discuss.ai.google.dev/t/media-resolution-gemini-api/116517).
GEMINI_3_VIDEO = VideoRule(tokens_per_frame=70, low_tokens_per_frame=70, high_tokens_per_frame=280)
