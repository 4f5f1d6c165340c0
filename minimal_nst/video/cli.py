"""`minimal-nst video`: a clip in, a stylised clip out (and its frames, kept for a resume).

Every single-run option applies to every frame (size, weights, layers, colours, masks,
backend, optimizer); --iterations is the first frame's, --later-iterations the rest's.
Bad input is one line and exit code 2 before any work; Ctrl-C, SIGTERM and SIGHUP stop at a
clean point (the frames written are kept; a rerun resumes at the next one).
"""

import os
import sys
import tempfile
from pathlib import Path

from ..app.options import PROG, UsageError, build_parser, friendly_errors, options, parse_args
from ..app.signals import StopSignals, exit_code

NAME = f"{PROG} video"


def build_video_parser():
    """The single run's options, and the video's own."""
    from .flow import DIS_PRESET
    from .run import MODES, TEMPORAL_PER_PIXEL

    p = build_parser()
    p.prog, p.description = NAME, __doc__.splitlines()[0].split(": ", 1)[1]
    helps = {
        "content": "the clip: a video file, a folder of frames (natural order), a glob, an image",
        "output": "a video (.mp4, .mov, .mkv, .gif), or a folder: the frames only",
        "iterations": "L-BFGS iterations of the first frame (default: 100 CPU, 500 GPU)",
    }
    for action in p._actions:
        action.help = helps.get(action.dest, action.help)
        if action.dest == "output":
            action.default = "stylized.mp4"
    a = p.add_argument_group("video (Ruder, Dosovitskiy & Brox 2016)").add_argument
    a("--frames", metavar="DIR", help="where the frames go (default: OUTPUT's name + _frames)")
    a("--mode", choices=MODES, default="temporal", help="independent: each frame alone; warped: "
      "each from the last, warped; temporal: and held to it")  # fmt: skip
    a("--temporal-weight", type=float, help=f"the temporal loss's (default: {TEMPORAL_PER_PIXEL:g}"
      " x H x W)")  # fmt: skip
    a("--later-iterations", type=int, help="of each frame after the first (default: half of "
      "--iterations; mode independent: --iterations)")  # fmt: skip
    a("--flow", choices=["ultrafast", "fast", "medium"], help=f"DIS preset (default: {DIS_PRESET})")
    a("--long-term", type=int, nargs="+", metavar="J", help="the earlier frames each frame is "
      "held to, counted back (default: 1, the short-term loss; the paper's long-term: 1 10 20 "
      "40): what an occlusion uncovers comes back as it was painted")  # fmt: skip
    return p


def main(argv):
    with StopSignals() as stop:
        return friendly_errors(NAME, lambda: run(parse_args(argv, build_video_parser()), stop))


def require_video_extra(files=True):
    """OpenCV (the flow) and, where a video file is read or written (files), PyAV (FFmpeg's
    libraries) come with the `video` extra, not with the package: frames in and frames or a
    GIF out need OpenCV alone."""
    for module in ("av", "cv2") if files else ("cv2",):
        try:
            __import__(module)
        except ImportError:
            install = "pip install 'minimal_nst[video]' (or -e \".[video]\" in a clone)"
            raise UsageError(f"video needs {module}, which is not installed: {install}") from None


def video_files(args):
    """True if the run reads a video file or writes one that is not a GIF (PyAV's work); a path
    that cannot even be looked at is left to the check that reads it (open_clip's one line)."""
    from .clip import IMAGE_SUFFIXES

    try:
        content = Path(args.content or "").expanduser()
        read = content.is_file() and content.suffix.lower() not in IMAGE_SUFFIXES
        output = Path(args.output)
        write = output.suffix.lower() not in ("", ".gif") and not output.is_dir()
    except OSError:
        return False
    return read or write


def run(args, stop):
    """Check everything, paint the frames (those finished before are kept), encode."""
    from ..app.api import load_network
    from ..backend import get_backend
    from .clip import open_clip
    from .encode import complete
    from .run import run_key

    require_video_extra(video_files(args))
    content, styles, settings, loss, masks = options(args)
    if args.content is None:
        raise UsageError("--content is required: a video file, a folder of frames or a glob")
    clip = open_clip(args.content)
    settings, video = check_run(args, settings, loss, styles)
    check_frames(clip, styles, settings, loss, masks)
    net = load_network(settings, get_backend(settings.backend))  # the weights checked too
    output, folder = plan_outputs(args, clip)
    key = run_key(clip, styles, settings, loss, video, masks)
    given = dict(net=net, stop=stop, masks=masks, style_paths=styles)
    paths, code = paint(clip, styles, folder, settings, loss, video, key, given)
    if paths is not None and output is not None and not complete(output, key):
        code = encode(output, paths, clip, stop, key, folder)  # not complete from a run before
    if paths is not None and code == 0:
        print(f"{NAME}: saved {output or folder} ({clip.count} frames)", file=sys.stderr)
    return exit_code(stop.signum) if stop.signum is not None else code


def paint(clip, styles, folder, settings, loss, video, key, given):
    """stylize_video with a bar of the frames: (their paths, 0), or (None, the exit code) when
    a signal stopped it or a frame could not be written. given: stylize_video's keywords."""
    from .run import finished_count, stylize_video

    done = finished_count(clip, folder, key)  # the frames on disk, from the first
    bar = frame_bar(clip.count, done)

    def on_frame(k, path, result):
        nonlocal done
        done = k + 1
        if result is not None:  # painted now, not kept from a run before
            bar.update()

    try:
        paths = stylize_video(clip, styles, folder, settings, loss, video, on_frame=on_frame,
                              **given)  # fmt: skip
    except OSError as e:  # a frame that cannot be written: the disk full, the folder gone
        bar.close()
        return None, say_kept(f"could not write frame {done + 1} ({reason(e)})", folder, done)
    bar.close()
    if paths is None:
        print(f"{NAME}: interrupted; the frames finished are in {folder}", file=sys.stderr)
        return None, 1
    return paths, 0


def reason(error):
    """An OSError in a few words: its strerror ("No space left on device"), else its text."""
    return error.strerror or str(error)


def say_kept(what, folder, count):
    """A write that failed, and what is safe: the frames written (a rerun resumes after them).
    The exit code, 1: the input was fine, the machine let the run down."""
    kept = f"the {count} frames finished are in {folder}" if count else "no frame was finished"
    print(f"{NAME}: error: {what}; {kept}: make room and rerun to resume", file=sys.stderr)
    return 1


def check_frames(clip, styles, settings, loss, masks):
    """Every input as the image command checks it (app.api.check: the styles, the masks, the
    start, the size against the layers, the memory), at the size the frames are painted:
    before any work, where a frame's own run would say it after the first frames."""
    from ..app.api import check
    from .clip import frames

    first = frames(clip)
    try:
        check(next(first), styles, settings, loss, masks)
    finally:
        first.close()


def check_run(args, settings, loss, styles):
    """(Settings with the backend's defaults, VideoOptions), the options checked as a single run
    checks them (the style images aside), and what only a video needs: one scale, counts and
    weights that can work, and no option that does nothing in the mode asked for."""
    import math

    from ..app.inputs import check_loss, check_settings
    from .flow import DIS_PRESET
    from .run import VideoOptions, video_defaults

    settings = video_defaults(settings)
    check_settings(settings)
    check_loss(loss, True, len(styles), settings.init)
    for flag, given in [("--preview", args.preview), ("--save-every", args.save_every)]:
        if given:
            raise UsageError(f"{flag} is for a single image; a video keeps every frame it paints")
    if settings.scales > 1 and args.mode != "independent":
        raise UsageError("--scales: a video runs at one scale (each frame starts from the last)")
    check_mode(args)
    if args.later_iterations is not None and args.later_iterations < 1:
        raise UsageError(f"--later-iterations must be >= 1, got {args.later_iterations}")
    weight = args.temporal_weight
    if weight is not None and not (0 <= weight < math.inf):
        raise UsageError(f"--temporal-weight must be >= 0 and finite, got {weight}")
    earlier = long_term(args.long_term)
    flow = args.flow or DIS_PRESET
    video = VideoOptions(args.mode, weight, args.later_iterations, flow, earlier)
    return settings, video


MODE_OPTIONS = {  # what each option needs: independent paints each frame alone, warped starts
    "--later-iterations": ("warped", "temporal"),  # each from the last but holds it to nothing
    "--flow": ("warped", "temporal"),
    "--temporal-weight": ("temporal",),
    "--long-term": ("temporal",),
}


def check_mode(args):
    """An option given that does nothing in --mode is a mistake to say, not to ignore."""
    for flag, modes in MODE_OPTIONS.items():
        given = getattr(args, flag[2:].replace("-", "_")) is not None
        if given and args.mode not in modes:
            raise UsageError(f"{flag} does nothing in --mode {args.mode} (only in "
                             f"{' and '.join(modes)})")  # fmt: skip


def long_term(given):
    """J from --long-term: sorted, each once; 1 always in it (each frame starts from it)."""
    earlier = tuple(sorted(set(given or [1])))
    if earlier[0] != 1:
        got = " ".join(map(str, given))
        raise UsageError(f"--long-term: whole numbers >= 1, 1 among them (the frame before, "
                         f"which each frame starts from), got {got}")  # fmt: skip
    return earlier


def plan_outputs(args, clip):
    """(the video to write or None, the frames' folder), checked before any work."""
    from ..app.outputs import OutputError
    from ..app.probes import probing

    with probing(OutputError, f"--output {args.output}"):  # absolute() asks for the cwd
        output = Path(args.output).expanduser().absolute()
        video = None if output.is_dir() or not output.suffix else output
    folder = Path(args.frames).expanduser().absolute() if args.frames else output
    if video is not None and not args.frames:
        folder = output.with_name(f"{output.stem}_frames")
    inputs = [*(args.style or ()), args.init, args.weights_path, args.content_weight_mask]
    inputs += [*(args.content_masks or ()), *(args.style_masks or ())]
    check_targets(video, folder, clip, inputs, args.overwrite)
    return video, folder


def check_targets(video, folder, clip, inputs, overwrite):
    """Nothing that is an input (the clip's files, `inputs`), nor a file minimal-nst did not
    make (unless overwrite), is to be replaced; the frames get a folder of their own, made here,
    and the video a folder that takes files. Every problem a one-line OutputError."""
    from ..app.outputs import OutputError, check_outputs
    from ..app.probes import probing
    from .encode import cannot_encode
    from .run import frame_path

    problem = video and cannot_encode(video)
    if problem:
        raise OutputError(f"--output {video.name}: {problem}")
    inputs = [clip.video, *clip.images, *inputs]
    inputs = {Path(p).expanduser().resolve() for p in inputs if isinstance(p, (str, Path))}
    with probing(OutputError, f"--frames {folder}"):
        check_folder(folder, clip)
    if video is not None:
        with probing(OutputError, f"--output {video}"):
            check_video(video, folder, inputs, overwrite)
    beside = video is not None and video.parent == folder.parent  # made with the frames' folder
    if video is not None and (video.parent.is_dir() or not beside):
        with probing(OutputError, f"cannot write to {video.parent}"):
            tempfile.TemporaryFile(dir=video.parent).close()
    with probing(OutputError, f"--frames {folder}"):
        folder.mkdir(parents=True, exist_ok=True)
    check_outputs([frame_path(folder, k) for k in range(clip.count)], inputs, overwrite)


def check_folder(folder, clip):
    """The frames' folder: not a file, not the clip's own, and empty or holding frames only (so
    that `--output .` does not scatter frames among a user's files)."""
    from ..app.outputs import OutputError
    from .run import FRAMES_FOLDER_HOLDS

    if folder.exists() and not folder.is_dir():
        raise OutputError(f"--frames {folder}: a file, not a folder")
    if any(p.parent.resolve() == folder.resolve() for p in clip.images):
        raise OutputError(f"the frames would go into the clip's own folder, {folder}; refusing")
    found = folder.iterdir() if folder.is_dir() else ()
    others = [p.name for p in found if not FRAMES_FOLDER_HOLDS.fullmatch(p.name)]
    if others:
        raise OutputError(f"the frames would go into {folder}, which holds other files "
                          f"({others[0]}, ...); name a new folder, or a video")  # fmt: skip


def check_video(video, folder, inputs, overwrite):
    """The video: not an input, not the frames' folder, not someone else's file (unless
    overwrite), and replaceable if it is there (found now, not after every frame is painted).
    A name too long for its folder fails the first look at it (the caller's probing)."""
    from ..app.outputs import OutputError
    from .encode import marked_video

    if video.resolve() in inputs:
        raise OutputError(f"the run would write {video}, which is one of its inputs; refusing")
    if video.is_dir() or video == folder:
        raise OutputError(f"the run would write {video}, which is a directory (or --frames)")
    if video.exists() and not (overwrite or marked_video(video)):
        raise OutputError(f"{video} exists and was not made by minimal-nst; choose another "
                          "--output or pass --overwrite")  # fmt: skip
    if video.exists() and not os.access(video, os.W_OK):  # an immutable file (chattr +i)
        raise OutputError(f"{video} exists and cannot be replaced (not writable)")


def frame_bar(total, done):
    """A progress bar of frames with an ETA, from the frames a run before has finished."""
    from tqdm import tqdm

    return tqdm(total=total, initial=done, unit="frame", file=sys.stderr, dynamic_ncols=True)


def encode(output, paths, clip, stop, key, folder):
    """The frames as a video at the clip's rate, its sound copied, marked with the run's key;
    a signal now waits for it. Where `output` cannot be written, beside it or in the temp folder
    (outputs.write_rescued), and the user told where. Returns the exit code."""
    from ..app.outputs import write_rescued

    if stop is not None:
        stop.finish = True
    try:
        path, error = write_rescued(output, lambda p: write_frames(p, paths, clip, key),
                                    output.suffix)  # fmt: skip
    except OSError as e:
        return say_kept(f"could not write {output} ({reason(e)}), nor anywhere else", folder,
                        len(paths))  # fmt: skip
    if error is not None:
        print(f"{NAME}: error: could not write {output} ({reason(error)}); saved it as {path}",
              file=sys.stderr)  # fmt: skip
        return 1
    return 0


def write_frames(path, paths, clip, key):
    """The frame files `paths` encoded into `path` (video.encode.write_video)."""
    from ..app.files import load_image
    from .encode import write_video

    frames = (load_image(p) for p in paths)
    write_video(path, frames, clip.fps, clip.video if clip.audio else None, key)
