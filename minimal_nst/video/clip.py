"""A video's frames in and out: a video file (PyAV, FFmpeg's libraries), a folder of images or a
glob; every frame RGB uint8 (H, W, 3). Checked once, before any work: a bad input is one line."""

import glob as globbing
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from PIL import Image

from ..app.files import ImageError, load_image

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}
DEFAULT_FPS = Fraction(25)  # a folder of frames has no rate of its own


class VideoError(ImageError):
    """A clip that cannot be used: one line, meant for the user (an input, as an image is)."""


@dataclass(frozen=True)
class Clip:
    """Where the frames come from: a video file (`video`) or image files (`images`, in order)."""

    source: str
    count: int
    size: tuple  # (width, height)
    fps: Fraction
    video: Path | None = None
    images: tuple = ()
    audio: bool = False


def open_clip(source):
    """The Clip at `source`: a video file, a folder of images (sorted by name) or a glob."""
    text = str(source)
    if any(ch in text for ch in "*?["):
        return _image_clip(text, sorted(Path(p) for p in globbing.glob(text)))
    path = Path(text).expanduser()
    if path.is_dir():
        found = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        return _image_clip(text, found)
    if not path.is_file():
        raise VideoError(f"--content {text}: no such file or folder")
    return _video_clip(text, path)


def _image_clip(text, paths):
    if not paths:
        raise VideoError(f"--content {text}: no frames there (images: {', '.join(IMAGE_SUFFIXES)})")
    sizes = {}
    for p in paths:
        try:
            with Image.open(p) as im:
                sizes.setdefault(im.size, p)
        except OSError:
            raise VideoError(f"--content {text}: {p.name} is not an image") from None
    if len(sizes) > 1:
        (a, first), (b, other) = list(sizes.items())[:2]
        raise VideoError(f"--content {text}: the frame size changes ({first.name} {a[0]}x{a[1]}, "
                         f"{other.name} {b[0]}x{b[1]})")  # fmt: skip
    return Clip(text, len(paths), next(iter(sizes)), DEFAULT_FPS, images=tuple(paths))


def _video_clip(text, path):
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VideoError(f"--content {text}: no video stream in it")
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate or DEFAULT_FPS
            sizes = [(f.width, f.height) for f in container.decode(stream)]  # headers may guess
            audio, count, sizes = bool(container.streams.audio), len(sizes), set(sizes)
    except av.FFmpegError as e:
        raise VideoError(f"--content {text}: not a video FFmpeg can read ({e.strerror})") from None
    if not sizes:
        raise VideoError(f"--content {text}: the video has no frames")
    if len(sizes) > 1:
        raise VideoError(f"--content {text}: the frame size changes ({len(sizes)} sizes)")
    return Clip(text, count, sizes.pop(), Fraction(rate), video=path, audio=audio)


def frames(clip):
    """Each frame of the clip, RGB uint8 (H, W, 3), in order."""
    if clip.video is None:
        yield from (load_image(p) for p in clip.images)
        return
    import av

    with av.open(str(clip.video)) as container:
        for frame in container.decode(container.streams.video[0]):
            yield frame.to_ndarray(format="rgb24")
