"""Probing media bytes: every test makes its own small file (Pillow, ``wave``, PyAV encoders)."""

from __future__ import annotations

import base64
import importlib
import io
import wave
from fractions import Fraction
from types import SimpleNamespace

import av
import pytest
from PIL import Image

from tokenomy.meter.errors import MeterError
from tokenomy.meter.media import GEMINI_2_VIDEO, GEMINI_AUDIO, audio_tokens, video_tokens
from tokenomy.meter.probe import MediaError, MediaInfo, _duration_s, decode_data_url, probe

# --- generators --------------------------------------------------------------------------------


def make_image(fmt: str, width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buf, fmt)
    return buf.getvalue()


def make_wav(seconds: Fraction, rate: int = 16_000) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(bytes(2 * int(seconds * rate)))
    return buf.getvalue()


def _encoder(*names: str) -> str | None:
    return next((n for n in names if n in av.codecs_available), None)


def make_av(container: str, video_codec: str | None, audio_codec: str | None,
            seconds: int = 2, fps: int = 10, width: int = 64, height: int = 48,
            rate: int = 48_000) -> bytes:
    """A tiny file: ``seconds`` of grey frames at ``fps`` and/or silence at ``rate`` Hz."""
    buf = io.BytesIO()
    with av.open(buf, mode="w", format=container) as out:
        # every stream is added before the first packet: the muxer writes its header then
        vs = out.add_stream(video_codec, rate=fps) if video_codec is not None else None
        a_s = out.add_stream(audio_codec, rate=rate, layout="mono") if audio_codec else None
        if vs is not None:
            assert isinstance(vs, av.VideoStream)
            vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
            for i in range(seconds * fps):
                frame = av.VideoFrame(width, height, "yuv420p")
                for plane in frame.planes:
                    plane.update(bytes([i * 7 % 256]) * plane.buffer_size)
                frame.pts = i
                out.mux(vs.encode(frame))
            out.mux(vs.encode())
        if a_s is not None:
            assert isinstance(a_s, av.AudioStream)
            sample_format = a_s.codec_context.format.name
            n = a_s.codec_context.frame_size or 1024
            for pts in range(0, seconds * rate, n):
                samples = av.AudioFrame(format=sample_format, layout="mono", samples=n)
                for audio_plane in samples.planes:
                    audio_plane.update(bytes(audio_plane.buffer_size))
                samples.sample_rate, samples.pts = rate, pts
                out.mux(a_s.encode(samples))
            out.mux(a_s.encode())
    return buf.getvalue()


MP4_VIDEO = _encoder("libx264", "h264", "mpeg4")
AAC = _encoder("aac")
WEBM_VIDEO = _encoder("libvpx", "libvpx-vp9")
OPUS = _encoder("libopus", "opus")
needs_mp4 = pytest.mark.skipif(MP4_VIDEO is None or AAC is None, reason="no mp4/aac encoder")
needs_webm = pytest.mark.skipif(WEBM_VIDEO is None or OPUS is None, reason="no vp8/opus encoder")

# --- images ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "mime"), [("PNG", "image/png"), ("JPEG", "image/jpeg"),
                                           ("WEBP", "image/webp"), ("GIF", "image/gif")])
def test_image_size_and_mime(fmt: str, mime: str) -> None:
    info = probe(make_image(fmt, 1800, 2400))
    assert info == MediaInfo(modality="image", mime=mime, width=1800, height=2400,
                             duration_ms=None, has_audio=False, has_video=False, frames=1)


def test_animated_gif_is_one_image_with_its_first_frame_size() -> None:
    buf = io.BytesIO()
    frames = [Image.new("RGB", (30, 20), c) for c in ("red", "green", "blue")]
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=100)
    info = probe(buf.getvalue(), filename="spin.gif")
    assert (info.modality, info.width, info.height, info.frames) == ("image", 30, 20, 3)


def test_truncated_image_header_still_has_its_size() -> None:
    png = make_image("PNG", 123, 45)
    assert probe(png[:64]).width == 123  # Pillow reads the header only


# --- audio -------------------------------------------------------------------------------------


def test_wav_duration_is_exact() -> None:
    info = probe(make_wav(Fraction(5, 2)), filename="clip.wav")
    assert info == MediaInfo(modality="audio", mime="audio/wav", width=None, height=None,
                             duration_ms=2500, has_audio=True, has_video=False, frames=None)
    assert audio_tokens(GEMINI_AUDIO, 2500, "input") == 80


def test_wav_duration_rounds_up_to_the_millisecond() -> None:
    assert probe(make_wav(Fraction(1, 44_100), rate=44_100)).duration_ms == 1
    assert probe(make_wav(Fraction(22_051, 44_100), rate=44_100)).duration_ms == 501


@needs_mp4
def test_audio_only_mp4() -> None:
    info = probe(make_av("mp4", None, AAC))
    assert (info.modality, info.mime, info.has_audio, info.has_video) == (
        "audio", "audio/mp4", True, False)
    assert info.duration_ms is not None and 1900 <= info.duration_ms <= 2200


# --- video -------------------------------------------------------------------------------------


@needs_mp4
def test_mp4_with_audio() -> None:
    info = probe(make_av("mp4", MP4_VIDEO, AAC), filename="clip.mp4")
    assert (info.modality, info.mime, info.has_audio, info.has_video) == (
        "video", "video/mp4", True, True)
    assert (info.width, info.height, info.frame_rate) == (64, 48, Fraction(10))
    assert info.duration_ms is not None and 1900 <= info.duration_ms <= 2200
    assert info.frames is not None and 19 <= info.frames <= 22
    tokens = video_tokens(GEMINI_2_VIDEO, info.duration_ms, info.has_audio)
    assert tokens == 3 * 258 + audio_tokens(GEMINI_AUDIO, info.duration_ms, "input")


@needs_mp4
def test_mp4_without_audio() -> None:
    info = probe(make_av("mp4", MP4_VIDEO, None))
    assert (info.modality, info.has_audio, info.has_video) == ("video", False, True)
    assert info.duration_ms == 2000


@needs_webm
def test_webm_with_audio() -> None:
    info = probe(make_av("webm", WEBM_VIDEO, OPUS))
    assert (info.modality, info.mime, info.has_audio, info.has_video) == (
        "video", "video/webm", True, True)
    assert info.duration_ms is not None and 1900 <= info.duration_ms <= 2200
    assert info.frames is not None and info.frames >= 20  # estimated: webm stores no count


def test_duration_falls_back_to_streams_then_packets() -> None:
    stream = SimpleNamespace(duration=96_240, time_base=Fraction(1, 48_000), index=0)
    container = SimpleNamespace(duration=None, demux=lambda streams: iter(()))
    assert _duration_s(container, [stream], "x") == Fraction(96_240, 48_000)

    bare = SimpleNamespace(duration=None, time_base=Fraction(1, 1000), index=0)
    packets = [SimpleNamespace(duration=20, time_base=Fraction(1, 1000), stream=bare)] * 51
    packets.append(SimpleNamespace(duration=None, time_base=None, stream=bare))
    container = SimpleNamespace(duration=None, demux=lambda streams: iter(packets))
    assert _duration_s(container, [bare], "x") == Fraction(1020, 1000)


# --- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"",
        bytes(range(256)) * 40,
        b"hello world, this is not media\n" * 100,
        b"\x1b[31mred\x1b[0m" * 60,  # FFmpeg's tty demuxer would take ANSI text as video
        b"\x00" * 4096,
    ],
)
def test_garbage_is_a_media_error(data: bytes) -> None:
    with pytest.raises(MediaError) as caught:
        probe(data, filename="upload.bin")
    assert "upload.bin" in str(caught.value)


@needs_mp4
def test_truncated_video_is_a_media_error() -> None:
    with pytest.raises(MediaError):
        probe(make_av("mp4", MP4_VIDEO, AAC)[:40])


def test_only_listed_containers_are_read() -> None:
    """A PNG cut inside its header is no image to Pillow; FFmpeg's png_pipe is refused."""
    with pytest.raises(MediaError, match="unsupported container format 'png_pipe'"):
        probe(make_image("PNG", 50, 40)[:30])


def test_size_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    # the module itself, even if the package ever re-exports a ``probe`` function
    monkeypatch.setattr(importlib.import_module("tokenomy.meter.probe"), "MEDIA_BYTES_MAX", 100)
    with pytest.raises(MediaError, match="the limit is 100"):
        probe(make_wav(Fraction(1, 10)))


def test_media_error_is_a_meter_value_error() -> None:
    assert issubclass(MediaError, MeterError) and issubclass(MediaError, ValueError)
    assert MediaError.type == "invalid_media"


# --- data: URLs --------------------------------------------------------------------------------


def test_data_url_round_trip_into_probe() -> None:
    png = make_image("PNG", 1024, 1024)
    url = "data:image/png;base64," + base64.b64encode(png).decode()
    mime, data = decode_data_url(url)
    assert (mime, data) == ("image/png", png)
    assert probe(data).width == 1024


def test_data_url_forgiving_forms() -> None:
    assert decode_data_url("DATA:Image/PNG;name=a.png;base64,aGVsbG8") == ("image/png", b"hello")
    assert decode_data_url("data:audio/wav;base64,aGVs\nbG8=") == ("audio/wav", b"hello")
    assert decode_data_url("data:,hi%20there") == ("text/plain", b"hi there")
    assert decode_data_url("data:text/plain;charset=utf-8,%E2%82%AC") == (
        "text/plain", "€".encode())


@pytest.mark.parametrize(
    "url",
    [
        "image/png;base64,aGVsbG8=",
        "data:image/png;base64",
        "data:image/png;base64,aGVs*bG8=",
        "data:image/png;base64,aGVsb",
        "data:image/png;base64,",
        "data:not a mime;base64,aGVsbG8=",
        "https://example.com/cat.png",
    ],
)
def test_malformed_data_url(url: str) -> None:
    with pytest.raises(MediaError):
        decode_data_url(url)
