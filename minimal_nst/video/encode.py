"""The stylised frames written as a video (PyAV: H.264 in MP4, MOV or MKV; Pillow: an animated
GIF), at the input's frame rate, its sound copied over; atomically, like every file minimal-nst
writes. Each carries, as its comment, MARK and the run's key: a rerun may replace a video it
wrote, and knows one that is complete."""

import contextlib
from pathlib import Path

import numpy as np

from ..app.files import MARK, atomic_write

CONTAINERS = {  # suffix: (FFmpeg's format, the video codec); a GIF is Pillow's
    ".mp4": ("mp4", "libx264"),
    ".mov": ("mov", "libx264"),
    ".mkv": ("matroska", "libx264"),
    ".gif": ("gif", "gif"),
}


def even(rgb):
    """H.264 in 4:2:0 needs an even width and height: the last row or column repeated."""
    h, w = rgb.shape[:2]
    return np.pad(rgb, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")


def write_video(path, frames, fps, audio_from=None, key=""):
    """Encode `frames` (RGB uint8 arrays, one size) into `path`; copy the sound of the video
    file `audio_from`, if it has any and the container takes it (not a GIF). key: the run's."""
    path, comment = Path(path), f"{MARK} {key}".strip()
    fmt, codec = CONTAINERS[path.suffix.lower()]
    if codec == "gif":  # FFmpeg's GIF muxer keeps no comment, and its palette is a fixed one
        atomic_write(path, lambda f: _gif(f, frames, fps, comment))
        return
    atomic_write(path, lambda f: _encode(f, fmt, codec, frames, fps, audio_from, comment))


def _gif(file, frames, fps, comment):
    from PIL import Image

    images = (Image.fromarray(rgb) for rgb in frames)
    first = next(images)
    first.save(file, format="GIF", save_all=True, append_images=images, loop=0,
               duration=round(1000 / fps), comment=comment.encode())  # fmt: skip


def _encode(file, fmt, codec, frames, fps, audio_from, comment):
    import av

    with contextlib.ExitStack() as stack:
        out = stack.enter_context(av.open(file, "w", format=fmt))
        out.metadata["comment"] = comment  # so that a rerun may replace it (marked_video)
        stream = out.add_stream(codec, rate=fps)
        stream.pix_fmt = "yuv420p"
        source = audio_from and stack.enter_context(av.open(str(audio_from)))
        sound = source.streams.audio[0] if source and source.streams.audio else None
        copy = out.add_stream_from_template(sound) if sound else None
        for k, rgb in enumerate(frames):
            rgb = even(rgb)
            if k == 0:
                stream.width, stream.height = rgb.shape[1], rgb.shape[0]
            out.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        out.mux(stream.encode())  # flush
        if copy is not None:
            for packet in source.demux(sound):
                if packet.dts is not None:
                    packet.stream = copy
                    out.mux(packet)


def comment_of(path):
    """The comment a video file carries ("" if none, or not a video we can read)."""
    from PIL import Image

    if Path(path).suffix.lower() == ".gif":
        try:
            with Image.open(path) as im:
                return im.info.get("comment", b"").decode(errors="replace")
        except (OSError, ValueError):
            return ""
    import av

    try:
        with av.open(str(path)) as container:  # Matroska's tags are upper case
            return {k.lower(): v for k, v in container.metadata.items()}.get("comment", "")
    except (av.FFmpegError, OSError, ValueError):
        return ""


def marked_video(path):
    """True for a video a minimal-nst run wrote: its comment starts with MARK."""
    return comment_of(path).split(" ")[0] == MARK


def complete(path, key):
    """True for a video a run with this key wrote (written last, once every frame is)."""
    return comment_of(path) == f"{MARK} {key}"


def cannot_encode(path):
    """Why minimal-nst cannot write the video `path`, or None: its suffix, or a codec missing
    from this FFmpeg build."""
    suffix = Path(path).suffix.lower()
    if suffix not in CONTAINERS:
        return f"not a video format minimal-nst writes ({', '.join(CONTAINERS)}), nor a folder"
    codec = CONTAINERS[suffix][1]
    if codec == "gif":  # Pillow's
        return None
    import av

    if codec not in av.codecs_available:
        return f"this FFmpeg (PyAV {av.__version__}) has no {codec} encoder"
    return None
