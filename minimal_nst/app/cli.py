"""The command line: `minimal-nst` and `python scripts/stylize.py` (the same program).

Bad input gets one line on stderr and exit code 2, before any work. Nothing is lost: no input
and no file minimal-nst did not make is ever written over (outputs.py); Ctrl-C, SIGTERM and
SIGHUP keep the best image so far (exit 130, 143, 129); an image that cannot be written where
asked is written elsewhere, and the message says where (exit 1).

Importing it loads the package, and with it NumPy, SciPy, h5py and Pillow (a second or two):
scripts/minimal-nst turns a Ctrl-C during that start-up into one line too.
"""

import sys
import time
from pathlib import Path

from .options import PROG, friendly_errors, options, parse_args
from .signals import StopSignals, exit_code


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["check"]:
        from .check import main as check_main

        return check_main(argv[1:])
    if argv[:2] == ["video", "batch"]:
        from ..video.batch import main as video_batch_main

        return video_batch_main(argv[2:])
    if argv[:1] == ["video"]:
        from ..video.cli import main as video_main

        return video_main(argv[1:])
    if argv[:1] == ["batch"]:
        from ..batch.engine import main as batch_main

        return batch_main(argv[1:])
    with StopSignals() as stop:  # from the start: a signal while loading stops the run too
        return friendly_errors(PROG, lambda: run(parse_args(argv), stop))


def run(args, stop):
    """Plan and check every file, paint, then save whatever arrives meanwhile."""
    from ..transfer import with_defaults
    from .api import stylize
    from .progress import Progress

    content, styles, settings, loss, masks = options(args)
    settings = with_defaults(settings)
    output = plan_outputs(args, settings, [content, *styles])
    progress = Progress(output, settings, args.print_every, args.save_every)
    if args.content is None and args.style is not None:
        progress.note = f"{PROG}: no --content: synthesising a texture from the style"
    preview = []  # --preview starts at the first iteration: a bad input stays a one-line error

    def callback(record, image_fn):
        progress(record, image_fn)
        if args.preview and not preview:
            preview.append(start_preview(content, styles, settings, loss, output))
        if preview:
            preview[0].update(record, image_fn)

    start = time.time()
    try:
        result = stylize(content, styles, settings, loss, callback=callback, stop=stop, masks=masks)
        progress.close()
        stop.finish = True  # from here on a signal waits: the save in hand always completes
        code = save(output, result, time.time() - start)
        if preview:
            ending = result.message or (f"saved as {output}" if code == 0 else "see the terminal")
            preview[0].finish(result.image, f"the final image; {ending}")
    finally:
        if preview:
            preview[0].close()
    return exit_code(stop.signum) if stop.signum is not None else code


def plan_outputs(args, settings, images):
    """The output's absolute path, once every file the run will write is checked (never an
    input, never a file minimal-nst did not make)."""
    from ..transfer import iterations_per_scale
    from .outputs import OutputError, check_outputs, side_files
    from .probes import probing

    with probing(OutputError, f"--output {args.output}"):  # absolute() asks for the cwd
        output = Path(args.output).expanduser().absolute()
    planned = side_files(output, sum(iterations_per_scale(settings)), args.save_every)
    inputs = [*images, settings.init, args.weights_path]
    inputs += [*(args.content_masks or ()), *(args.style_masks or ()), args.content_weight_mask]
    check_outputs(planned, [p for p in inputs if isinstance(p, (str, Path))], args.overwrite)
    return output


def start_preview(content, styles, settings, loss, output):
    """--preview: serve the page, say where."""
    from ..transfer import iterations_per_scale
    from .preview import Preview

    name = lambda p: Path(p).name if isinstance(p, (str, Path)) else "the demo"  # noqa: E731
    shown = {
        "content": name(content) if content is not None else "none (a texture)",
        "style": [name(s) for s in styles],
        "output": str(output),
        "size": settings.size,
        "iterations": list(iterations_per_scale(settings)),
        "scales": settings.scales,
        "init": str(settings.init),
        "alpha": loss.alpha,
        "beta": loss.beta_at(settings.size),
        "content layers": list(loss.content_layers),
        "style layers": list(loss.style_layers),
        "conv": settings.conv,
        "optimizer": settings.optimizer,
        "backend": settings.backend or "auto",
    }
    preview = Preview(shown)
    print(f"{PROG}: watch it at {preview.url} (until the run ends)", file=sys.stderr, flush=True)
    return preview


def save(output, result, seconds):
    """Write the image and its history; say what is on disk. Returns the exit code."""
    from .outputs import save_rescued, write_history

    if result.image is None:
        print(
            f"{PROG}: {result.message} before the first iteration; nothing saved", file=sys.stderr
        )
        return 1
    path, error = save_rescued(output, result.image)
    if error is not None:
        reason = error.strerror or error
        print(
            f"{PROG}: error: could not write {output} ({reason}); saved it as {path}",
            file=sys.stderr,
        )
        return 1
    h, w = result.image.shape[:2]
    done = f"{w}x{h}, {len(result.history)} iterations, {seconds:.0f} s"
    print(
        f"{PROG}: saved {output} ({done}){'; ' + result.message if result.stopped else ''}",
        file=sys.stderr,
    )
    try:
        write_history(output, result.history)
    except OSError as e:
        print(f"{PROG}: error: the image is saved, but not its history ({e})", file=sys.stderr)
        return 1
    return 2 if result.stopped == "nonfinite" else 0


if __name__ == "__main__":
    sys.exit(main())
