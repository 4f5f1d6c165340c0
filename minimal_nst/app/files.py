"""Image files in and out: load anything Pillow reads as uint8 RGB (H, W, 3), checked once here
at the boundary, and save atomically, marked as ours (so a later run knows it may replace it).

What the network sees is the algorithm's (minimal_nst/image.py).
"""

import io
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError

from .probes import probing

MIN_SIDE = 16  # four 2x2 poolings lie between the image and relu5_1
BYTES_PER_PIXEL = 64  # decoded, converted to float64 and recoloured: the most one input holds
MARK = "minimal_nst"  # written into every image we save, so a later run knows it may replace it


class ImageError(ValueError):
    """An input image that cannot be used, with a one-line reason."""


@dataclass(frozen=True)
class FileBytes:
    """An image file read on one machine to be decoded on another (a batch job's worker)."""

    name: str  # the path on the machine that read it: every message names it
    data: bytes


def load_image(src):
    """uint8 RGB (H, W, 3) from a path, a PIL image or an array (gray, RGB or RGBA; any dtype).

    EXIF orientation is applied; alpha is composited on white; 16-bit and float data are scaled.
    """
    if isinstance(src, np.ndarray):
        return _array_to_rgb(src, "array")
    if isinstance(src, Image.Image):
        return _pil_to_rgb(src, "image")
    return read_image(src, _pil_to_rgb)


def read_image(src, convert):
    """convert(PIL image, path) of the image file at `src` (a path or FileBytes); an ImageError
    if it cannot be read."""
    if isinstance(src, FileBytes):
        path, file = src.name, io.BytesIO(src.data)
    else:
        path = file = check_file(src)
    limit, pillows_limit = max_pixels(), Image.MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's EXIF and size warnings: one line is ours
            Image.MAX_IMAGE_PIXELS = None  # the limit below comes from this machine's memory
            with Image.open(file) as im:
                pixels = im.width * im.height  # from the header: nothing decoded yet
                if pixels > limit:
                    raise ImageError(
                        f"{path}: {im.width}x{im.height} is too large: {pixels / 1e6:.0f} "
                        f"megapixels, and the memory free now holds {limit / 1e6:.0f}"
                    )
                im.load()
                return convert(im, path)
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not an image Pillow can read") from None
    except ImageError:
        raise
    except (OSError, SyntaxError, ValueError) as e:
        raise ImageError(f"{path}: cannot read the image ({e})") from None
    finally:
        Image.MAX_IMAGE_PIXELS = pillows_limit


def check_file(src):
    """Path(src), or an ImageError if it is not a file."""
    path = Path(src)
    with probing(ImageError, path):
        if path.is_dir():
            raise ImageError(f"{path} is a directory, not an image")
        if not path.is_file():
            raise ImageError(f"{path}: no such file")
    return path


def max_pixels():
    """The most pixels an input image may have: what the memory free now can hold."""
    from .memory import available_memory

    host = available_memory(np)[1]
    return int(min(host, 2**40) // BYTES_PER_PIXEL)


def _pil_to_rgb(im, name):
    im = ImageOps.exif_transpose(im)
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):  # 16 bits: 65535 is white, whatever is used
        return _array_to_rgb(np.asarray(im), name, top=65535.0)
    if im.mode == "F":
        return _array_to_rgb(np.asarray(im), name)
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        im = im.convert("RGBA")
        white = Image.new("RGBA", im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(white, im)
    return _check_size(np.asarray(im.convert("RGB")), name)


def _array_to_rgb(a, name, top=None):
    """uint8 RGB from an array: uint16 counts to 65535, floats up to 1.0 or 255 by their range."""
    a = np.asarray(a)
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3 or a.shape[2] not in (1, 3, 4):
        raise ImageError(f"{name}: expected an (H, W), (H, W, 3) or (H, W, 4) array, got {a.shape}")
    if a.dtype != np.uint8:
        if top is None and a.dtype == np.uint16:
            top = 65535.0
        a = a.astype(np.float64)
        if top is None:
            top = 1.0 if a.max() <= 1.0 else 65535.0 if a.max() > 255 else 255.0
        a = np.clip(a / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
    if a.shape[2] == 4:
        alpha = a[:, :, 3:] / 255.0
        a = (a[:, :, :3] * alpha + 255 * (1 - alpha) + 0.5).astype(np.uint8)
    if a.shape[2] == 1:
        a = np.repeat(a, 3, axis=2)
    return _check_size(np.ascontiguousarray(a), name)


def _check_size(rgb, name):
    h, w = rgb.shape[:2]
    if min(h, w) < MIN_SIDE:
        raise ImageError(f"{name}: {w}x{h} pixels is too small (at least {MIN_SIDE} on each side)")
    return rgb


def save_image(path, rgb, text=None):
    """Write uint8 RGB atomically (a temp file beside `path`, then a rename), in the format its
    suffix names, marked as ours where the format can carry a mark (MARKED_FORMATS).

    text: more {key: value} for a PNG's text chunks (a batch job's key)."""
    path = Path(path)
    fmt = Image.registered_extensions()[path.suffix.lower()]
    options = save_options(fmt, text)
    atomic_write(path, lambda f: Image.fromarray(rgb).save(f, format=fmt, **options))


LOSSY = ("JPEG", "MPO", "WEBP", "AVIF")  # saved at quality 95: a painting's fine texture kept
MARKED_FORMATS = {  # where a format keeps the mark: a text chunk, a comment, EXIF's Software
    "PNG": "text",
    "JPEG": "comment",
    "MPO": "comment",
    "GIF": "comment",
    "JPEG2000": "comment",
    "WEBP": "exif",
    "TIFF": "exif",
    "AVIF": "exif",
}
EXIF_SOFTWARE = 0x0131


def save_options(fmt, text=None):
    """Pillow's save options for `fmt`: the mark where the format has metadata, and quality."""
    options = {"quality": 95} if fmt in LOSSY else {}
    where = MARKED_FORMATS.get(fmt)
    if where == "text":
        info = PngImagePlugin.PngInfo()
        for key, value in {"Software": MARK, **(text or {})}.items():
            info.add_text(key, value)
        options["pnginfo"] = info
    elif where == "comment":
        options["comment"] = MARK.encode()
    elif where == "exif":
        exif = Image.Exif()
        exif[EXIF_SOFTWARE] = MARK
        options["exif"] = exif
    return options


def has_mark(im):
    """True if the opened image carries MARK, wherever its format keeps it."""
    found = [im.info.get("Software"), im.info.get("comment")]
    if MARKED_FORMATS.get(im.format) == "exif":
        found.append(im.getexif().get(EXIF_SOFTWARE))
    found = [v.decode(errors="replace") if isinstance(v, bytes) else v for v in found]
    return MARK in found


def atomic_write(path, write):
    """Call write(file) on a temp file in path's folder, then rename it over `path`."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".minimal-nst-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# -- masks ---------------------------------------------------------------------------------------


def load_mask(src):
    """(H, W) float64 in [0, 1] from a path, a PIL image or an array.

    An image is read as its luminance, white = 1 (16-bit: 65535 = 1); a float image (TIFF mode
    F) or an array is taken as it is, and its values must lie in [0, 1].
    """
    if isinstance(src, np.ndarray):
        mask, name = np.asarray(src, np.float64), "mask array"
        if mask.ndim != 2:
            raise ImageError(f"{name}: expected an (H, W) array, got shape {mask.shape}")
    else:
        name = "mask image" if isinstance(src, Image.Image) else getattr(src, "name", src)
        mask = _pil_to_mask(src, name) if name == "mask image" else read_image(src, _pil_to_mask)
    if not np.isfinite(mask).all() or mask.min() < 0 or mask.max() > 1:
        low, high = np.nanmin(mask), np.nanmax(mask)
        raise ImageError(f"{name}: mask values must lie in 0..1, found {low:g}..{high:g}")
    return mask


def _pil_to_mask(im, name):
    im = ImageOps.exif_transpose(im)
    if im.mode == "F":
        return np.asarray(im, np.float64)
    if im.mode.startswith("I"):
        return np.asarray(im, np.float64) / 65535.0
    return np.asarray(im.convert("L"), np.float64) / 255.0
