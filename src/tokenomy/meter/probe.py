"""Media bytes to the facts the token rules need.

In: the bytes of one image, audio or video part, already in memory (from a ``data:`` URL via
:func:`decode_data_url`, or an upload), and optionally its file name. Out: a frozen
:class:`MediaInfo` (pixel size, integer-millisecond duration, which tracks it has, frame count)
or :class:`MediaError` (a :class:`~tokenomy.meter.errors.MeterError`, hence a ``ValueError``)
for data that is unreadable, unsupported or over the size limit. Nothing here touches files,
network or clock; the decoders read a ``BytesIO``.

Sniffing is by content, never by name: Pillow first, restricted to the image formats the
providers accept (``IMAGE_FORMATS``), then PyAV (FFmpeg), restricted to the containers in
``AV_FORMATS``. The file name only breaks ties the content cannot (mp4 vs mov, webm vs mkv).

* Images: the stored size, before any EXIF rotation. Every rule in :mod:`tokenomy.meter.media`
  is symmetric in width and height, so a rotation does not change a count. An animated GIF,
  APNG or WebP is an image: its first frame's size (all frames share the logical screen), and
  ``frames`` is its frame count.
* Audio and video: the duration is the container's, else the longest chosen stream's
  (``duration × time_base``), else the sum of packet durations found by demuxing (WAV and raw
  streams, at most ``PACKETS_MAX`` packets). Each is converted with ``Fraction`` and rounded up
  to whole milliseconds. A video stream that is only cover art (``attached_pic``) is not video.

Sources: Pillow ``Image.open`` (lazy: reads the header only); PyAV 18 ``av.open``; FFmpeg
``AVFormatContext.duration`` is in ``AV_TIME_BASE`` (1/1,000,000 s) units; RFC 2397 (``data:``).
"""

from __future__ import annotations

import base64
import binascii
import io
import math
import mimetypes
import re
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal

import av
from PIL import Image, UnidentifiedImageError

from tokenomy._invariant import invariant
from tokenomy.meter.errors import MeterError

__all__ = [
    "AV_FORMATS",
    "IMAGE_FORMATS",
    "MEDIA_BYTES_MAX",
    "PACKETS_MAX",
    "MediaError",
    "MediaInfo",
    "decode_data_url",
    "probe",
]

# Limits. Gemini's largest upload is 2 GB, but a part metered in memory is a request body:
# OpenAI caps requests at 50 MB and Gemini inline data at 100 MB, so 256 MiB is generous.
MEDIA_BYTES_MAX = 256 * 1024 * 1024
DATA_URL_CHARS_MAX = (MEDIA_BYTES_MAX * 4) // 3 + 4096
PACKETS_MAX = 2_000_000
# Image formats accepted by OpenAI / Anthropic (png, jpeg, gif, webp) and Gemini (+ heic, which
# Pillow cannot read without a plugin), plus bmp / tiff / avif. Restricting Pillow matters:
# format plugins without a magic number (TGA) would otherwise accept random bytes.
IMAGE_FORMATS: tuple[str, ...] = ("PNG", "JPEG", "GIF", "WEBP", "BMP", "TIFF", "AVIF")
# FFmpeg demuxer names (``container.format.name`` is a comma list such as
# "mov,mp4,m4a,3gp,3g2,mj2"). Others (tty, image2, raw codecs) are refused.
AV_FORMATS: frozenset[str] = frozenset(
    {"mov", "mp4", "matroska", "webm", "wav", "w64", "mp3", "ogg", "flac", "aac", "avi",
     "mpeg", "mpegts", "aiff", "flv", "asf", "caf", "amr"}
)

# ISO-BMFF brands of still images: FFmpeg's mov demuxer opens them as one-frame "video".
_STILL_IMAGE_BRANDS = frozenset({"heic", "heix", "heim", "heis", "mif1", "msf1", "avif", "avis"})
_MPO = "MPO"  # Pillow's name for a multi-picture JPEG (phone cameras); it is a JPEG.


class MediaError(MeterError):
    """Media bytes the meter cannot read: unknown format, corrupt, empty or too large."""

    type = "invalid_media"


@dataclass(frozen=True, slots=True)
class MediaInfo:
    """What a token rule needs to know about one media part.

    ``has_audio`` / ``has_video`` name the tracks of audio and video files; an image has
    neither. ``frames``: the frame count of an image (1, or the animation's) or of a video stream
    (stored, else ⌈duration × frame_rate⌉); ``None`` for audio. ``frame_rate`` is the video
    stream's average rate when known.
    """

    modality: Literal["image", "audio", "video"]
    mime: str | None
    width: int | None
    height: int | None
    duration_ms: int | None
    has_audio: bool
    has_video: bool
    frames: int | None
    frame_rate: Fraction | None = None

    def __post_init__(self) -> None:
        for name in ("width", "height"):
            value = getattr(self, name)
            invariant(value is None or value >= 1, f"{name} must be positive, got {value}")
        invariant(self.duration_ms is None or self.duration_ms >= 0, "duration must be >= 0")
        invariant(self.frames is None or self.frames >= 0, "frames must be >= 0")
        if self.modality == "image":
            invariant(not (self.has_audio or self.has_video), "an image has no tracks")
        elif self.modality == "video":
            invariant(self.has_video, "a video has a video track")
        else:
            invariant(self.has_audio and not self.has_video, "audio has only audio tracks")


def probe(data: bytes, filename: str | None = None) -> MediaInfo:
    """Facts about ``data`` (one image, audio or video), sniffed by content."""
    label = repr(filename) if filename else "media"
    if not data:
        raise MediaError(f"{label} is empty")
    if len(data) > MEDIA_BYTES_MAX:
        raise MediaError(f"{label} is {len(data)} bytes; the limit is {MEDIA_BYTES_MAX}")
    image = _probe_image(data, label)
    if image is not None:
        return image
    return _probe_av(data, filename, label)


# --- images (Pillow) -----------------------------------------------------------------------------


def _probe_image(data: bytes, label: str) -> MediaInfo | None:
    """The image's facts, or ``None`` when Pillow does not recognise ``data`` as an image."""
    Image.init()  # loads Pillow's plugins once; a name Pillow lacks would raise KeyError
    formats = tuple(f for f in IMAGE_FORMATS if f in Image.OPEN)
    fmt = ""
    try:
        with Image.open(io.BytesIO(data), formats=formats) as img:
            width, height = img.size
            fmt = img.format or ""
            frames = int(getattr(img, "n_frames", 1))
    except UnidentifiedImageError:
        return None
    except Image.DecompressionBombError as exc:
        raise MediaError(f"{label}: image too large ({exc})") from exc
    except (OSError, ValueError, EOFError, SyntaxError) as exc:
        raise MediaError(f"{label}: unreadable {fmt or 'image'} data ({exc})") from exc
    if width < 1 or height < 1:
        raise MediaError(f"{label}: image has no pixels ({width}×{height})")
    mime = "image/jpeg" if fmt == _MPO else Image.MIME.get(fmt)
    return MediaInfo(
        modality="image", mime=mime, width=width, height=height, duration_ms=None,
        has_audio=False, has_video=False, frames=max(1, frames),
    )


# --- audio and video (PyAV) ----------------------------------------------------------------------


def _probe_av(data: bytes, filename: str | None, label: str) -> MediaInfo:
    try:
        container = av.open(io.BytesIO(data), mode="r", metadata_errors="replace")
    except av.FFmpegError as exc:
        raise MediaError(
            f"{label} is not a readable image, audio or video file ({exc})"
        ) from exc
    try:
        with container:
            return _read_container(container, filename, label)
    except av.FFmpegError as exc:
        raise MediaError(f"{label}: corrupt audio/video data ({exc})") from exc


def _read_container(container: Any, filename: str | None, label: str) -> MediaInfo:
    names = frozenset(str(container.format.name).split(","))
    if not names & AV_FORMATS:
        raise MediaError(f"{label}: unsupported container format {container.format.name!r}")
    brand = str(container.metadata.get("major_brand", "")).strip().lower()
    if "mov" in names and brand in _STILL_IMAGE_BRANDS:
        raise MediaError(f"{label}: HEIF/AVIF still images ({brand!r}) are not supported")
    attached_pic = av.stream.Disposition.attached_pic
    video = [s for s in container.streams.video if not s.disposition & attached_pic]
    audio = list(container.streams.audio)
    if not video and not audio:
        raise MediaError(f"{label}: no audio or video stream")
    seconds = _duration_s(container, [*video, *audio], label)
    duration_ms = math.ceil(seconds * 1000)
    width = height = frames = None
    frame_rate: Fraction | None = None
    if video:
        codec = video[0].codec_context
        width = int(codec.width) or None
        height = int(codec.height) or None
        frame_rate = _fraction(video[0].average_rate) or _fraction(video[0].guessed_rate)
        frames = int(video[0].frames or 0)
        if frames == 0 and frame_rate is not None:
            frames = math.ceil(seconds * frame_rate)
    return MediaInfo(
        modality="video" if video else "audio",
        mime=_av_mime(names, container, video, audio, filename),
        width=width,
        height=height,
        duration_ms=duration_ms,
        has_audio=bool(audio),
        has_video=bool(video),
        frames=frames,
        frame_rate=frame_rate,
    )


def _fraction(value: object) -> Fraction | None:
    if isinstance(value, Fraction) and value > 0:
        return value
    return None


def _duration_s(container: Any, streams: list[Any], label: str) -> Fraction:
    """Duration in seconds, exactly: container, else streams, else summed packets."""
    if container.duration is not None and container.duration > 0:
        return Fraction(int(container.duration), int(av.time_base))
    from_streams = [
        int(s.duration) * Fraction(s.time_base)
        for s in streams
        if s.duration is not None and s.duration > 0 and s.time_base is not None
    ]
    if from_streams:
        return max(from_streams)
    return _demux_duration_s(container.demux(streams), label)


def _demux_duration_s(packets: Iterable[Any], label: str) -> Fraction:
    total: dict[int, Fraction] = {}
    for count, packet in enumerate(packets):
        if count >= PACKETS_MAX:
            raise MediaError(f"{label}: more than {PACKETS_MAX} packets")
        if packet.duration is None or packet.time_base is None:
            continue
        index = int(packet.stream.index)
        total[index] = total.get(index, Fraction(0)) + int(packet.duration) * packet.time_base
    return max(total.values(), default=Fraction(0))


# Container family → (video mime, audio-only mime).
_AV_MIMES: tuple[tuple[str, str, str], ...] = (
    ("mp4", "video/mp4", "audio/mp4"),
    ("webm", "video/webm", "audio/webm"),
    ("wav", "audio/wav", "audio/wav"),
    ("w64", "audio/wav", "audio/wav"),
    ("mp3", "audio/mpeg", "audio/mpeg"),
    ("ogg", "video/ogg", "audio/ogg"),
    ("flac", "audio/flac", "audio/flac"),
    ("aac", "audio/aac", "audio/aac"),
    ("avi", "video/x-msvideo", "video/x-msvideo"),
    ("mpegts", "video/mp2t", "video/mp2t"),
    ("mpeg", "video/mpeg", "audio/mpeg"),
    ("aiff", "audio/aiff", "audio/aiff"),
    ("flv", "video/x-flv", "video/x-flv"),
    ("asf", "video/x-ms-asf", "audio/x-ms-wma"),
    ("caf", "audio/x-caf", "audio/x-caf"),
    ("amr", "audio/amr", "audio/amr"),
)
_WEBM_CODECS = frozenset({"vp8", "vp9", "av1", "opus", "vorbis"})


def _av_mime(names: frozenset[str], container: Any, video: list[Any], audio: list[Any],
             filename: str | None) -> str | None:
    hinted = mimetypes.guess_type(filename)[0] if filename else None
    if "mov" in names:  # one demuxer for mp4, mov, m4a, 3gp: the brand or the name decides
        brand = str(container.metadata.get("major_brand", "")).strip().lower()
        if brand == "qt" or hinted == "video/quicktime":
            return "video/quicktime"
    if "matroska" in names:
        codecs = {str(s.codec_context.name) for s in (*video, *audio)}
        if hinted == "video/x-matroska" or not codecs <= _WEBM_CODECS:
            return "video/x-matroska"
    for family, video_mime, audio_mime in _AV_MIMES:
        if family in names:
            return video_mime if video else audio_mime
    return hinted


# --- data: URLs ----------------------------------------------------------------------------------

_MIME_RE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$")
_SPACE_RE = re.compile(r"\s+")


def decode_data_url(url: str) -> tuple[str, bytes]:
    """``data:[<mime>][;param=v…][;base64],<payload>`` (RFC 2397) → (mime, bytes).

    The mime is returned lower-cased without parameters (``text/plain`` when omitted).
    Base64 payloads may contain whitespace and may omit padding; other characters are an
    error. Payloads without ``;base64`` are percent-decoded.
    """
    if len(url) > DATA_URL_CHARS_MAX:
        raise MediaError(f"data URL is {len(url)} characters; the limit is {DATA_URL_CHARS_MAX}")
    if url[:5].lower() != "data:":
        raise MediaError("not a data URL (it must start with 'data:')")
    header, comma, payload = url[5:].partition(",")
    if not comma:
        raise MediaError("malformed data URL: no ',' between the header and the data")
    params = [p.strip().lower() for p in header.split(";")]
    mime = params[0] or "text/plain"
    if not _MIME_RE.match(mime):
        raise MediaError(f"malformed data URL: bad media type {params[0]!r}")
    if params[-1] != "base64" or len(params) == 1:
        data = urllib.parse.unquote_to_bytes(payload)
    else:
        data = _b64decode(payload)
    if not data:
        raise MediaError("data URL carries no data")
    return mime, data


def _b64decode(payload: str) -> bytes:
    text = _SPACE_RE.sub("", urllib.parse.unquote(payload) if "%" in payload else payload)
    text = text.rstrip("=")
    if len(text) % 4 == 1:
        raise MediaError("malformed data URL: base64 payload has an impossible length")
    text += "=" * (-len(text) % 4)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MediaError(f"malformed data URL: invalid base64 ({exc})") from exc
