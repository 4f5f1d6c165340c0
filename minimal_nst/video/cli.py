"""`minimal-nst video`: a clip in, a stylised clip out (and its frames, kept for a resume).

Every single-run option applies to every frame (size, weights, layers, colours, masks,
backend, optimizer); --iterations is the first frame's, --later-iterations the rest's.
Bad input is one line and exit code 2 before any work; Ctrl-C, SIGTERM and SIGHUP stop at a
clean point (the frames written are kept; a rerun resumes at the next one).
"""

import sys
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
        "content": "the clip: a video file, a folder of frames (sorted by name) or a glob",
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
    a("--flow", choices=["ultrafast", "fast", "medium"], default=DIS_PRESET, help="DIS preset")
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
    """True if the run reads a video file or writes one that is not a GIF (PyAV's work)."""
    from .clip import IMAGE_SUFFIXES

    content = Path(args.content or "").expanduser()
    read = content.is_file() and content.suffix.lower() not in IMAGE_SUFFIXES
    suffix = Path(args.output).suffix.lower()
    return read or (suffix not in ("", ".gif") and not Path(args.output).is_dir())


def run(args, stop):
    """Check everything, paint the frames (those finished before are kept), encode."""
    from ..app.files import load_image
    from .clip import open_clip
    from .encode import complete
    from .run import finished_count, run_key, stylize_video

    require_video_extra(video_files(args))
    content, styles, settings, loss, masks = options(args)
    if args.content is None:
        raise UsageError("--content is required: a video file, a folder of frames or a glob")
    clip = open_clip(args.content)
    settings, video = check_run(args, settings, loss, styles)
    for style in styles:  # a batch leaves this to the job, so that it fails that job alone
        load_image(style)
    output, folder = plan_outputs(args, clip)
    key = run_key(clip, styles, settings, loss, video, masks)
    bar = frame_bar(clip.count, finished_count(clip, folder, key))
    on_frame = lambda k, path, result: result is not None and bar.update()  # noqa: E731
    paths = stylize_video(clip, styles, folder, settings, loss, video, stop=stop, masks=masks,
                          style_paths=styles, on_frame=on_frame)  # fmt: skip
    bar.close()
    if paths is None:
        print(f"{NAME}: interrupted; the frames finished are in {folder}", file=sys.stderr)
        return exit_code(stop.signum) if stop.signum is not None else 1
    if output is not None and not complete(output, key):  # complete: from a run before
        encode(output, paths, clip, stop, key)
    print(f"{NAME}: saved {output or folder} ({clip.count} frames)", file=sys.stderr)
    return exit_code(stop.signum) if stop.signum is not None else 0


def check_run(args, settings, loss, styles):
    """(Settings with the backend's defaults, VideoOptions), the options checked as a single run
    checks them (the style images aside), and what only a video needs: one scale, counts and
    weights that can work."""
    import math

    from ..app.inputs import check_loss, check_settings
    from .run import VideoOptions, video_defaults

    settings = video_defaults(settings)
    check_settings(settings)
    check_loss(loss, True, len(styles), settings.init)
    for flag, given in [("--preview", args.preview), ("--save-every", args.save_every)]:
        if given:
            raise UsageError(f"{flag} is for a single image; a video keeps every frame it paints")
    if settings.scales > 1 and args.mode != "independent":
        raise UsageError("--scales: a video runs at one scale (each frame starts from the last)")
    if args.later_iterations is not None and args.later_iterations < 1:
        raise UsageError(f"--later-iterations must be >= 1, got {args.later_iterations}")
    weight = args.temporal_weight
    if weight is not None and not (0 <= weight < math.inf):
        raise UsageError(f"--temporal-weight must be >= 0 and finite, got {weight}")
    earlier = long_term(args.long_term)
    video = VideoOptions(args.mode, weight, args.later_iterations, args.flow, earlier)
    return settings, video


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
    make (unless overwrite), is to be replaced; the frames' folder is made."""
    from ..app.outputs import OutputError, check_outputs
    from .encode import cannot_encode, marked_video
    from .run import frame_path

    problem = video and cannot_encode(video)
    if problem:
        raise OutputError(f"--output {video.name}: {problem}")
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"--frames {folder}: a file, not a folder")
    if any(p.parent.resolve() == folder.resolve() for p in clip.images):
        raise OutputError(f"the frames would go into the clip's own folder, {folder}; refusing")
    inputs = [clip.video, *clip.images, *inputs]
    inputs = {Path(p).expanduser().resolve() for p in inputs if isinstance(p, (str, Path))}
    if video is not None and video.resolve() in inputs:
        raise OutputError(f"the run would write {video}, which is one of its inputs; refusing")
    if video is not None and video.exists() and not (overwrite or marked_video(video)):
        raise OutputError(f"{video} exists and was not made by minimal-nst; choose another "
                          "--output or pass --overwrite")  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    check_outputs([frame_path(folder, k) for k in range(clip.count)], inputs, overwrite)


def frame_bar(total, done):
    """A progress bar of frames with an ETA, from the frames a run before has finished."""
    from tqdm import tqdm

    return tqdm(total=total, initial=done, unit="frame", file=sys.stderr, dynamic_ncols=True)


def encode(output, paths, clip, stop, key):
    """The frames as a video at the clip's rate, its sound copied, marked with the run's key;
    a signal now waits for it."""
    from ..app.files import load_image
    from .encode import write_video

    if stop is not None:
        stop.finish = True
    frames = (load_image(p) for p in paths)
    write_video(output, frames, clip.fps, clip.video if clip.audio else None, key)
