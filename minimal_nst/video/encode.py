"""The stylised frames written as a video (PyAV: H.264 in MP4, MOV or MKV, or an animated GIF),
at the input's frame rate, its sound copied over; atomically, like every file minimal-nst
writes."""

import contextlib
from pathlib import Path

import numpy as np

from ..image import MARK, atomic_write

CONTAINERS = {  # suffix: (FFmpeg's format, the video codec)
    ".mp4": ("mp4", "libx264"),
    ".mov": ("mov", "libx264"),
    ".mkv": ("matroska", "libx264"),
    ".gif": ("gif", "gif"),
}


def even(rgb):
    """H.264 in 4:2:0 needs an even width and height: the last row or column repeated."""
    h, w = rgb.shape[:2]
    return np.pad(rgb, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")


def write_video(path, frames, fps, audio_from=None):
    """Encode `frames` (RGB uint8 arrays, one size) into `path`; copy the sound of the video
    file `audio_from`, if it has any and the container takes it (not a GIF)."""
    path = Path(path)
    fmt, codec = CONTAINERS[path.suffix.lower()]
    atomic_write(path, lambda f: _encode(f, fmt, codec, frames, fps, audio_from))


def _encode(file, fmt, codec, frames, fps, audio_from):
    import av

    with contextlib.ExitStack() as stack:
        out = stack.enter_context(av.open(file, "w", format=fmt))
        out.metadata["comment"] = MARK  # so that a rerun may replace it (made_by_us)
        stream = out.add_stream(codec, rate=fps)
        stream.pix_fmt = "rgb8" if codec == "gif" else "yuv420p"
        sound_from = audio_from if codec != "gif" else None  # a GIF has no sound
        source = sound_from and stack.enter_context(av.open(str(sound_from)))
        sound = source.streams.audio[0] if source and source.streams.audio else None
        copy = out.add_stream_from_template(sound) if sound else None
        for k, rgb in enumerate(frames):
            rgb = rgb if codec == "gif" else even(rgb)
            if k == 0:
                stream.width, stream.height = rgb.shape[1], rgb.shape[0]
            out.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        out.mux(stream.encode())  # flush
        if copy is not None:
            for packet in source.demux(sound):
                if packet.dts is not None:
                    packet.stream = copy
                    out.mux(packet)


def made_by_us(path):
    """True for a video a minimal-nst run wrote: it carries MARK as its comment."""
    import av

    try:
        with av.open(str(path)) as container:
            return container.metadata.get("comment") == MARK
    except (av.FFmpegError, OSError):
        return False


def cannot_encode(path):
    """Why minimal-nst cannot write the video `path`, or None: its suffix, or a codec missing
    from this FFmpeg build."""
    import av

    suffix = Path(path).suffix.lower()
    if suffix not in CONTAINERS:
        return f"not a video format minimal-nst writes ({', '.join(CONTAINERS)}), nor a folder"
    codec = CONTAINERS[suffix][1]
    if codec not in av.codecs_available:
        return f"this FFmpeg (PyAV {av.__version__}) has no {codec} encoder"
    return None
