"""Every file a run writes, planned and checked before any work, and written so nothing is lost.

The promise: no input is ever written to; no file that minimal-nst did not make is replaced
(unless --overwrite); every file is written to a temporary name and renamed into place; and
if the image cannot be written where asked, it is written somewhere else, and the user is told.
"""

import csv
import functools
import io
import os
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from .files import MARK, atomic_write, has_mark, save_image, save_options
from .probes import probing


class OutputError(ValueError):
    """An output that cannot or must not be written: one line, before any work."""


def side_files(output, total_iterations, save_every):
    """Every path a run with this --output may write: the image, its history and loss curve,
    and the snapshots NAME_0001.png ... every `save_every` iterations."""
    stem = output.with_suffix("")
    paths = [output, Path(f"{stem}_history.csv"), Path(f"{stem}_loss.png")]
    if save_every:
        steps = range(save_every, total_iterations + 1, save_every)
        paths += [snapshot_path(output, k) for k in steps]
    return paths


def snapshot_path(output, iteration):
    return Path(f"{output.with_suffix('')}_{iteration:04d}{output.suffix}")


def check_outputs(paths, inputs, overwrite=False):
    """Refuse, before any work, a planned file that is an input, a directory, a file someone
    else made (unless overwrite), or one that cannot be created in its folder; an image format
    Pillow cannot write; and any path that cannot even be looked at (a name too long)."""
    output = paths[0]
    check_format(output)
    inputs = _existing(inputs)
    with probing(OutputError, f"--output {output}"):
        paths = [path.expanduser().resolve() for path in paths]
        for path in paths:  # an input or a directory first: --overwrite never allows those
            if path in inputs:
                raise OutputError(
                    f"the run would write {path}, which is one of its inputs; refusing"
                )
            if path.is_dir():
                raise OutputError(f"the run would write {path}, which is a directory")
        for path in paths:
            if path.exists() and not overwrite and not made_by_us(path):
                raise OutputError(
                    f"{path} exists and was not made by minimal-nst; choose another --output "
                    "or pass --overwrite"
                )
        _check_writable(paths[0])


def _existing(paths):
    """The inputs among `paths` that exist, resolved. One that cannot even be looked at is not
    an output's name; its own check, when it is read, says what is wrong with it."""
    found = set()
    for p in filter(None, paths):
        try:
            if Path(p).expanduser().exists():
                found.add(Path(p).expanduser().resolve())
        except OSError:
            pass
    return found


def check_format(output):
    """The output's suffix must name a format in which Pillow can write an RGB image."""
    fmt = Image.registered_extensions().get(output.suffix.lower())
    problem = _cannot_write(fmt) if fmt else "not an image format Pillow knows"
    if problem:
        raise OutputError(f"--output {output.name}: {problem} (.png, .jpg, .webp, .tif ...)")


@functools.cache
def _cannot_write(fmt):
    """None if Pillow writes a small RGB image as `fmt` with our options, else why not."""
    try:
        tiny = Image.fromarray(np.zeros((16, 16, 3), np.uint8))
        tiny.save(io.BytesIO(), format=fmt, **save_options(fmt))
    except Exception as e:  # a plugin that cannot save at all, or not RGB: Pillow's own reason
        reason = " ".join(str(e).split()) or type(e).__name__
        return f"Pillow cannot write an RGB image as {fmt} ({reason})"
    return None


def _check_writable(path):
    name_max = os.pathconf(path.parent, "PC_NAME_MAX") if path.parent.is_dir() else 255
    if len(os.fsencode(path.name)) + len("_history.csv") > name_max:
        raise OutputError(f"--output {path.name}: the name is too long for its folder")
    try:
        with tempfile.TemporaryFile(dir=path.parent):
            pass
    except OSError as e:
        raise OutputError(f"cannot write to {path.parent}: {e.strerror or e}") from None


def made_by_us(path):
    """True for a file a minimal-nst run wrote: images carry a mark, histories and batch
    summaries our header."""
    try:
        if path.suffix == ".csv":
            with open(path, encoding="utf-8", errors="replace") as f:
                return f.readline().startswith(("scale,of,iteration,", "job,status,"))
        with Image.open(path) as im:
            return has_mark(im)
    except (OSError, ValueError, SyntaxError):  # not an image we can read: not ours
        return False


def save_rescued(output, rgb):
    """Save the image to `output`, or, if that fails, beside it under a free name or in the
    temp folder. Returns (the path written, the error that made it go elsewhere, or None)."""
    return write_rescued(output, lambda path: save_image(path, rgb))


def write_rescued(output, write, suffix=".png"):
    """write(path) to `output`, or, if that raises an OSError, to OUTPUT.rescued-K+suffix beside
    it (K a free number) or to the temp folder: the run's work is never lost to a folder that
    filled up or a file that cannot be replaced. Returns (the path written, the error that made
    it go elsewhere, or None); raises that error if no place would take it."""
    try:
        write(output)
        return output, None
    except OSError as e:
        error = e
    stem = output.stem[:100]
    tries = [output.parent / f"{stem}.rescued-{k}{suffix}" for k in range(1, 4)]
    tries.append(Path(tempfile.gettempdir()) / f"minimal-nst-{stem}-{os.getpid()}{suffix}")
    for path in tries:
        if path.exists():
            continue
        try:
            write(path)
            return path, error
        except OSError:
            pass
    raise error


def write_history(output, history):
    """NAME_history.csv and NAME_loss.png (the loss curves) beside the output."""
    if not history:
        return
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(history[0]))
    writer.writeheader()
    writer.writerows(history)
    stem = output.with_suffix("")
    atomic_write(Path(f"{stem}_history.csv"), lambda f: f.write(buf.getvalue().encode()))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for key in ("total", "content", "style"):
        ax.semilogy(range(1, len(history) + 1), [max(r[key], 1e-30) for r in history], label=key)
    ax.set_xlabel("L-BFGS iteration")
    ax.set_ylabel("loss (weighted total, raw terms)")
    ax.legend()
    fig.tight_layout()
    meta = {"Software": MARK}
    save = lambda f: fig.savefig(f, format="png", dpi=100, metadata=meta)  # noqa: E731
    try:
        atomic_write(Path(f"{stem}_loss.png"), save)
    finally:
        plt.close(fig)
