"""A video's frames in and out: a video file (PyAV, FFmpeg's libraries), a folder of images, a
glob or a single image; every frame RGB uint8 (H, W, 3), upright (a phone's rotation metadata
and a photo's EXIF orientation applied). Checked once, before any work: a bad input is one line."""

import glob as globbing
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image

from ..app.files import ImageError, load_image
from ..app.probes import probing

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}
DEFAULT_FPS = Fraction(25)  # a folder of frames has no rate of its own
ORIENTATION = 0x0112  # EXIF's tag


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
    rotation: int = 0  # degrees counter-clockwise that make a stored frame upright (0 or k 90)


def open_clip(source):
    """The Clip at `source`: a video file, a folder of images or a glob (in natural order:
    frame 2 before frame 10), or a single image (a clip of one frame)."""
    text = str(source)
    with probing(VideoError, f"--content {text}"):  # a name too long, a folder unreadable
        if any(ch in text for ch in "*?["):
            return _image_clip(text, natural_sorted(Path(p) for p in globbing.glob(text)))
        path = Path(text).expanduser()
        if path.is_dir():
            found = [p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES]
            return _image_clip(text, natural_sorted(found))
        if not path.is_file():
            raise VideoError(f"--content {text}: no such file or folder")
        if path.suffix.lower() in IMAGE_SUFFIXES:  # read as the image command reads it
            return _image_clip(text, [path])
        return _video_clip(text, path)


def natural_sorted(paths):
    """Paths in the order a person numbers frames: runs of digits compared as numbers, so that
    unpadded names (1, 2, ..., 10) keep their order; ties broken by the plain name."""

    def key(p):
        parts = re.split(r"(\d+)", p.name)  # text, digits, text, ...: digits at odd places
        return [int(t) if k % 2 else t for k, t in enumerate(parts)], p.name

    return sorted(paths, key=key)


def _image_clip(text, paths):
    if not paths:
        raise VideoError(f"--content {text}: no frames there (images: {', '.join(IMAGE_SUFFIXES)})")
    sizes = {}
    for p in paths:
        try:
            with Image.open(p) as im:
                sizes.setdefault(upright_size(im), p)
        except OSError:
            raise VideoError(f"--content {text}: {p.name} is not an image") from None
    if len(sizes) > 1:
        (a, first), (b, other) = list(sizes.items())[:2]
        raise VideoError(f"--content {text}: the frame size changes ({first.name} {a[0]}x{a[1]}, "
                         f"{other.name} {b[0]}x{b[1]})")  # fmt: skip
    return Clip(text, len(paths), next(iter(sizes)), DEFAULT_FPS, images=tuple(paths))


def upright_size(im):
    """(width, height) of an opened image as load_image gives it: EXIF orientations 5-8 are a
    quarter turn, which swaps them."""
    turned = im.getexif().get(ORIENTATION, 1) in (5, 6, 7, 8)
    return im.size[::-1] if turned else im.size


def _video_clip(text, path):
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VideoError(f"--content {text}: no video stream in it")
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate or DEFAULT_FPS
            seen = [(f.width, f.height, rotation(f)) for f in container.decode(stream)]
            audio, count, sizes = bool(container.streams.audio), len(seen), set(seen)
    except av.FFmpegError as e:
        raise VideoError(f"--content {text}: not a video FFmpeg can read ({e.strerror})") from None
    if not sizes:
        raise VideoError(f"--content {text}: the video has no frames")
    if len(sizes) > 1:
        raise VideoError(f"--content {text}: the frame size changes ({len(sizes)} sizes)")
    w, h, turn = sizes.pop()  # the headers may guess: the frames decoded say
    size = (h, w) if turn % 180 else (w, h)  # as it plays
    return Clip(text, count, size, Fraction(rate), video=path, audio=audio, rotation=turn)


def rotation(frame):
    """The quarter turns counter-clockwise, in degrees 0-270, that a decoded frame's display
    matrix asks for (a phone held upright stores its frames on their side and says 90 or 270);
    a rotation between quarter turns is taken to the nearest one."""
    degrees = getattr(frame, "rotation", 0) or 0  # PyAV >= 13 reads the display matrix
    return int(round(degrees / 90)) % 4 * 90


def frames(clip):
    """Each frame of the clip, RGB uint8 (H, W, 3), upright, in order."""
    if clip.video is None:
        yield from (load_image(p) for p in clip.images)
        return
    import av

    with av.open(str(clip.video)) as container:
        for frame in container.decode(container.streams.video[0]):
            rgb = frame.to_ndarray(format="rgb24")
            yield np.ascontiguousarray(np.rot90(rgb, clip.rotation // 90))
