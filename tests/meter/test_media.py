"""Image, audio and video token rules against the documented vectors (token_facts.md §1b–3)."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tokenomy._invariant import InvariantError
from tokenomy.meter.media import (
    ANTHROPIC_HIGH_RES_IMAGE,
    ANTHROPIC_IMAGE,
    GEMINI_2_IMAGE,
    GEMINI_2_VIDEO,
    GEMINI_3_IMAGE,
    GEMINI_3_VIDEO,
    GEMINI_AUDIO,
    OPENAI_AUDIO,
    OPENAI_PATCH_MULTIPLIERS,
    OPENAI_PATCH_RULES,
    OPENAI_TILE_RULES,
    QWEN2_VL,
    QWEN3_VL,
    AnthropicImageRule,
    AudioRule,
    Detail,
    GeminiImageRule,
    ImageRule,
    MediaResolution,
    OpenAIPatchRule,
    OpenAITileRule,
    QwenVLRule,
    VideoRule,
    audio_tokens,
    image_tokens,
    openai_patches,
    qwen_grid,
    video_frames,
    video_tokens,
)

SIDE = st.integers(min_value=1, max_value=12_000)

# --- the §1b table -----------------------------------------------------------------------------

# W, H, gpt-4o high, gpt-5, o3, gpt-image-1 input, patches, gpt-4.1-mini, Claude, Gemini 2.x,
# Qwen2-VL grid (without the 2 special tokens)
TABLE = [
    (512, 512, 255, 210, 225, 194, 256, 415, 350, 258, 324),
    (1024, 1024, 765, 630, 675, 194, 1024, 1659, 1399, 1032, 1225),
    (2048, 4096, 1105, 910, 975, 323, 1458, 2362, 1600, 4644, 1250),
    (1800, 2400, 765, 630, 675, 323, 1452, 2353, 1600, 3096, 1230),
    (1920, 1080, 1105, 910, 975, 323, 1508, 2443, 1600, 1548, 1222),
]


@pytest.mark.parametrize(
    ("w", "h", "gpt4o", "gpt5", "o3", "image1", "patches", "mini", "claude", "gemini", "qwen"),
    TABLE,
)
def test_token_facts_table(
    w: int, h: int, gpt4o: int, gpt5: int, o3: int, image1: int, patches: int, mini: int,
    claude: int, gemini: int, qwen: int,
) -> None:
    assert image_tokens(OPENAI_TILE_RULES["gpt-4o"], w, h, Detail.HIGH) == gpt4o
    assert image_tokens(OPENAI_TILE_RULES["gpt-5"], w, h, Detail.HIGH) == gpt5
    assert image_tokens(OPENAI_TILE_RULES["o3"], w, h, Detail.HIGH) == o3
    assert image_tokens(OPENAI_TILE_RULES["gpt-image-1"], w, h) == image1
    assert openai_patches(w, h) == patches
    assert image_tokens(OPENAI_PATCH_RULES["gpt-4.1-mini"], w, h) == mini
    assert mini == math.ceil(Decimal(patches) * Decimal("1.62"))
    assert image_tokens(ANTHROPIC_IMAGE, w, h) == claude
    assert image_tokens(GEMINI_2_IMAGE, w, h) == gemini
    assert image_tokens(QwenVLRule(special_tokens=0), w, h) == qwen
    assert image_tokens(QWEN2_VL, w, h) == qwen + 2  # <|vision_start|> … <|vision_end|>


def test_openai_doc_examples() -> None:
    """platform.openai.com/docs/guides/vision#calculating-costs."""
    gpt_4o = OPENAI_TILE_RULES["gpt-4o"]
    assert image_tokens(gpt_4o, 1024, 1024, Detail.HIGH) == 765
    assert image_tokens(gpt_4o, 2048, 4096, Detail.HIGH) == 1105
    assert image_tokens(gpt_4o, 4096, 8192, Detail.LOW) == 85
    assert openai_patches(1024, 1024) == 1024
    assert openai_patches(1800, 2400) == 1452


def test_low_detail_is_the_base() -> None:
    for name, base in [("gpt-4o", 85), ("gpt-5", 70), ("o3", 75), ("gpt-4o-mini", 2833)]:
        assert image_tokens(OPENAI_TILE_RULES[name], 4000, 3000, Detail.LOW) == base


def test_auto_and_original_count_as_high_on_tile_models() -> None:
    rule = OPENAI_TILE_RULES["gpt-4.1"]
    high = image_tokens(rule, 1920, 1080, Detail.HIGH)
    assert image_tokens(rule, 1920, 1080) == high
    assert image_tokens(rule, 1920, 1080, Detail.ORIGINAL) == high


def test_gpt_4o_mini_tiles() -> None:
    rule = OPENAI_TILE_RULES["gpt-4o-mini"]
    assert image_tokens(rule, 1024, 1024, Detail.HIGH) == 2833 + 4 * 5667


def test_patch_detail_has_no_effect_on_classic_models() -> None:
    rule = OPENAI_PATCH_RULES["o4-mini"]
    counts = {image_tokens(rule, 1800, 2400, d) for d in Detail}
    assert counts == {math.ceil(Decimal(1452) * Decimal("1.72"))}


def test_patch_multipliers_keep_the_documented_values() -> None:
    assert OPENAI_PATCH_MULTIPLIERS["gpt-5-mini"] == Decimal("1.62")
    assert OPENAI_PATCH_MULTIPLIERS["gpt-5-nano"] == Decimal("2.46")
    assert image_tokens(OPENAI_PATCH_RULES["gpt-4.1-nano"], 512, 512) == math.ceil(256 * 2.46)


def test_gpt_5_4_patch_limits_by_detail() -> None:
    rule = OPENAI_PATCH_RULES["gpt-5.4"]
    # 4000×3000: 125·94 patches; high fits 2048² then ≤ 2500 patches; original ≤ 10,000.
    high = openai_patches(4000, 3000, 2500, 2048)
    original = openai_patches(4000, 3000, 10_000, 6000)
    assert high <= 2500 < original <= 10_000
    high_tokens = image_tokens(rule, 4000, 3000, Detail.HIGH)
    assert high_tokens == math.ceil(Decimal(high) * Decimal("1.2"))
    assert image_tokens(rule, 4000, 3000, Detail.AUTO) == high_tokens
    assert image_tokens(rule, 4000, 3000, Detail.ORIGINAL) == math.ceil(
        Decimal(original) * Decimal("1.2")
    )
    assert image_tokens(rule, 4000, 3000, Detail.LOW) == math.ceil(
        Decimal(openai_patches(4000, 3000)) * Decimal("1.2")
    )


def test_patch_extreme_aspect_never_zero() -> None:
    # The float doc algorithm gives 0 here (⌊w·r/32⌋ = 0); each side keeps at least one patch
    # row, and the count is then capped at the budget.
    assert openai_patches(1, 100_000) == 1536
    assert openai_patches(100_000, 1) == 1536
    assert openai_patches(1, 1) == 1


def test_claude() -> None:
    assert image_tokens(ANTHROPIC_IMAGE, 1092, 1092) == 1590  # the doc's 1:1 max size
    assert image_tokens(ANTHROPIC_IMAGE, 200, 200) == 54  # ⌈40000/750⌉
    assert image_tokens(ANTHROPIC_IMAGE, 3000, 100) == 111  # long edge → 1568×⌈52.3⌉
    assert image_tokens(ANTHROPIC_HIGH_RES_IMAGE, 8000, 8000) == 4784


def test_gemini_2_resolutions() -> None:
    assert image_tokens(GEMINI_2_IMAGE, 384, 384) == 258
    assert image_tokens(GEMINI_2_IMAGE, 385, 100) == 258
    assert image_tokens(GEMINI_2_IMAGE, 4000, 3000, resolution=MediaResolution.LOW) == 64
    assert image_tokens(GEMINI_2_IMAGE, 4000, 3000, resolution=MediaResolution.MEDIUM) == 256
    # HIGH ("zoomed reframing") keeps the tile bound, which is never below the doc's 256.
    assert image_tokens(GEMINI_2_IMAGE, 100, 100, resolution=MediaResolution.HIGH) == 258
    assert image_tokens(GEMINI_2_IMAGE, 1024, 1024, resolution=MediaResolution.HIGH) == 1032


@pytest.mark.parametrize(
    ("resolution", "tokens"),
    [(None, 1120), (MediaResolution.LOW, 280), (MediaResolution.MEDIUM, 560),
     (MediaResolution.HIGH, 1120), (MediaResolution.ULTRA_HIGH, 2240)],
)
def test_gemini_3_budgets(resolution: MediaResolution | None, tokens: int) -> None:
    assert image_tokens(GEMINI_3_IMAGE, 10, 10, resolution=resolution) == tokens
    assert image_tokens(GEMINI_3_IMAGE, 8000, 6000, Detail.LOW, resolution) == tokens


def test_qwen_small_and_qwen3() -> None:
    # 20×20 → below 56² → scaled up to the minimum: 2×2 grid (plus the exact-root margin).
    w, h = qwen_grid(QWEN2_VL, 20, 20)
    assert w * h >= QWEN2_VL.min_pixels and w % 28 == 0 and h % 28 == 0
    # Qwen3-VL: factor 32, 1024² → 32·32 = 1024 ≤ 1280 tokens, no resize.
    assert qwen_grid(QWEN3_VL, 1024, 1024) == (1024, 1024)
    assert image_tokens(QWEN3_VL, 1024, 1024) == 1024 + 2


def test_enum_values() -> None:
    assert [d.value for d in Detail] == ["low", "high", "auto", "original"]
    assert [r.value for r in MediaResolution] == ["low", "medium", "high", "ultra_high"]
    assert Detail("low") is Detail.LOW


def test_bad_sizes_and_rules_are_invariant_errors() -> None:
    with pytest.raises(InvariantError):
        image_tokens(ANTHROPIC_IMAGE, 0, 10)
    with pytest.raises(InvariantError):
        GeminiImageRule(generation=1)
    with pytest.raises(InvariantError):
        OpenAIPatchRule(multiplier=Decimal(0))
    with pytest.raises(InvariantError):
        audio_tokens(GEMINI_AUDIO, -1, "input")
    with pytest.raises(InvariantError):
        QwenVLRule(min_pixels=10, max_pixels=5)


# --- float reference implementations (the published algorithms, verbatim in spirit) ----------


def _doc_patches_float(w: int, h: int, budget: int = 1536) -> int:
    patches = math.ceil(w / 32) * math.ceil(h / 32)
    if patches <= budget:
        return patches
    r = math.sqrt(32 * 32 * budget / (w * h))
    r *= min(math.floor(w * r / 32) / (w * r / 32), math.floor(h * r / 32) / (h * r / 32))
    return min(budget, math.ceil(math.floor(w * r) / 32) * math.ceil(math.floor(h * r) / 32))


def _qwen_float(rule: QwenVLRule, w: int, h: int) -> tuple[int, int]:
    f = rule.factor
    h_bar, w_bar = max(f, round(h / f) * f), max(f, round(w / f) * f)
    if h_bar * w_bar > rule.max_pixels:
        beta = math.sqrt(h * w / rule.max_pixels)
        h_bar = max(f, math.floor(h / beta / f) * f)
        w_bar = max(f, math.floor(w / beta / f) * f)
    elif h_bar * w_bar < rule.min_pixels:
        beta = math.sqrt(rule.min_pixels / (h * w))
        h_bar, w_bar = math.ceil(h * beta / f) * f, math.ceil(w * beta / f) * f
    return w_bar, h_bar


COMMON_SIZES = [(640, 480), (800, 600), (1280, 720), (1366, 768), (2560, 1440), (3840, 2160),
                (4032, 3024), (3024, 4032), (1170, 2532), (1080, 2400), (6000, 4000), (300, 7000)]


@pytest.mark.parametrize(("w", "h"), COMMON_SIZES)
def test_exact_patches_match_the_doc_algorithm_on_common_sizes(w: int, h: int) -> None:
    assert openai_patches(w, h) == _doc_patches_float(w, h)
    assert qwen_grid(QWEN2_VL, w, h) == _qwen_float(QWEN2_VL, w, h)


# --- properties ----------------------------------------------------------------------------------


@given(SIDE, SIDE)
def test_exact_patches_never_below_the_float_algorithm(w: int, h: int) -> None:
    exact = openai_patches(w, h)
    assert 1 <= exact <= 1536
    assert exact <= math.ceil(w / 32) * math.ceil(h / 32)
    if max(w, h) <= 200 * min(w, h):
        assert exact >= _doc_patches_float(w, h)


@given(SIDE, SIDE, st.sampled_from([QWEN2_VL, QWEN3_VL]))
def test_qwen_grid_bounds(w: int, h: int, rule: QwenVLRule) -> None:
    g_w, g_h = qwen_grid(rule, w, h)
    assert g_w % rule.factor == 0 and g_h % rule.factor == 0
    assert g_w >= rule.factor and g_h >= rule.factor
    if max(w, h) <= 200 * min(w, h):  # transformers' aspect-ratio limit
        f_w, f_h = _qwen_float(rule, w, h)
        assert g_w >= f_w and g_h >= f_h
        if g_w > rule.factor and g_h > rule.factor:
            assert g_w * g_h <= rule.max_pixels


RULES: list[ImageRule] = [
    *OPENAI_TILE_RULES.values(), *OPENAI_PATCH_RULES.values(), ANTHROPIC_IMAGE,
    ANTHROPIC_HIGH_RES_IMAGE, GEMINI_2_IMAGE, GEMINI_3_IMAGE, QWEN2_VL, QWEN3_VL,
]


@given(st.sampled_from(RULES), SIDE, SIDE, st.sampled_from(list(Detail)),
       st.none() | st.sampled_from(list(MediaResolution)))
def test_tokens_are_positive_ints_and_symmetric(
    rule: ImageRule, w: int, h: int, detail: Detail, resolution: MediaResolution | None
) -> None:
    tokens = image_tokens(rule, w, h, detail, resolution)
    assert type(tokens) is int and tokens >= 1
    assert image_tokens(rule, h, w, detail, resolution) == tokens


@given(st.sampled_from(list(OPENAI_TILE_RULES.values())), SIDE, SIDE)
def test_tile_low_is_constant_and_high_is_bounded(rule: OpenAITileRule, w: int, h: int) -> None:
    assert image_tokens(rule, w, h, Detail.LOW) == rule.base
    high = image_tokens(rule, w, h, Detail.HIGH)
    # after fitting, at most ⌈2048/512⌉ × ⌈768/512⌉ tiles (short ≤ short_side, long ≤ max_side)
    assert rule.base + rule.tile <= high <= rule.base + rule.tile * 4 * 2


@given(SIDE, SIDE, st.sampled_from([ANTHROPIC_IMAGE, ANTHROPIC_HIGH_RES_IMAGE]))
def test_claude_never_over_the_cap(w: int, h: int, rule: AnthropicImageRule) -> None:
    tokens = image_tokens(rule, w, h)
    assert 1 <= tokens <= rule.tokens_max
    if max(w, h) <= rule.long_edge_max:
        assert tokens == min(rule.tokens_max, math.ceil(w * h / rule.px_per_token))


# --- audio -------------------------------------------------------------------------------------


def test_audio_rates() -> None:
    assert audio_tokens(GEMINI_AUDIO, 1000, "input") == 32
    assert audio_tokens(GEMINI_AUDIO, 60_000, "input") == 1920
    assert audio_tokens(GEMINI_AUDIO, 1, "input") == 1  # ⌈0.032⌉
    assert audio_tokens(OPENAI_AUDIO, 1000, "input") == 10
    assert audio_tokens(OPENAI_AUDIO, 1000, "output") == 20
    assert audio_tokens(OPENAI_AUDIO, 150, "input") == 2  # 1 token per 100 ms, rounded up
    assert audio_tokens(OPENAI_AUDIO, 50, "output") == 1
    assert audio_tokens(OPENAI_AUDIO, 0, "output") == 0


DIRECTIONS: list[Literal["input", "output"]] = ["input", "output"]


@given(st.integers(0, 10**9), st.integers(0, 10**6), st.sampled_from(DIRECTIONS))
def test_audio_monotone_and_never_under(
    ms: int, extra: int, direction: Literal["input", "output"]
) -> None:
    rule = AudioRule(input_per_second=10, output_per_second=20)
    a = audio_tokens(rule, ms, direction)
    assert a <= audio_tokens(rule, ms + extra, direction)
    rate = 10 if direction == "input" else 20
    assert a * 1000 >= ms * rate > (a - 1) * 1000


# --- video -------------------------------------------------------------------------------------


def test_gemini_2_video() -> None:
    assert video_tokens(GEMINI_2_VIDEO, 10_000, has_audio=True) == 10 * 258 + 320
    assert video_tokens(GEMINI_2_VIDEO, 10_000, has_audio=False) == 2580
    low = video_tokens(GEMINI_2_VIDEO, 10_000, True, MediaResolution.LOW)
    assert low == 10 * 66 + 320
    assert video_tokens(GEMINI_2_VIDEO, 2500, has_audio=True) == 3 * 258 + 80
    assert video_tokens(GEMINI_2_VIDEO, 0, has_audio=True) == 258  # one frame, no audio


def test_gemini_3_video() -> None:
    assert video_tokens(GEMINI_3_VIDEO, 10_000, True) == 700 + 320
    assert video_tokens(GEMINI_3_VIDEO, 10_000, True, MediaResolution.MEDIUM) == 700 + 320
    assert video_tokens(GEMINI_3_VIDEO, 10_000, True, MediaResolution.HIGH) == 2800 + 320
    assert video_tokens(GEMINI_3_VIDEO, 10_000, False, MediaResolution.ULTRA_HIGH) == 2800


def test_custom_fps() -> None:
    rule = VideoRule(tokens_per_frame=258, fps_num=2)
    assert video_frames(rule, 10_000) == 20
    assert video_frames(VideoRule(tokens_per_frame=1, fps_num=1, fps_den=2), 3001) == 2
    assert video_frames(rule, 1) == 1


@given(st.integers(0, 10**8), st.integers(0, 10**6), st.booleans())
def test_video_monotone(ms: int, extra: int, has_audio: bool) -> None:
    for rule in (GEMINI_2_VIDEO, GEMINI_3_VIDEO):
        t = video_tokens(rule, ms, has_audio)
        assert t >= rule.tokens_per_frame
        assert t <= video_tokens(rule, ms + extra, has_audio)
