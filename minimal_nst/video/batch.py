"""`minimal-nst video batch`: many clips, or many styles for one, on `minimal-nst batch`'s Dask
engine (a local cluster by default, or a running scheduler).

One clip is one job, and its frames follow one another: frame k starts from frame k-1 painted,
so this process sends a job's next frame when its last one arrives, while the jobs run side by
side on the workers. As in an image batch, the workers need no shared disk and never write a
file: this process reads the clips and the paintings, writes each frame as it arrives (keyed as
`minimal-nst video` keys them, so a rerun of either resumes at the first frame missing), then
the video, marked with the key, so that a rerun skips a job whose video is complete.
"""

import functools
import glob
import itertools
import sys
from dataclasses import dataclass
from pathlib import Path

from ..app.files import save_image
from ..app.keys import FRAME_KEY
from ..app.options import PROG, UsageError, friendly_errors, options
from ..app.probes import probing
from ..app.signals import StopSignals
from ..batch.args import SINGLE_ONLY, Kind, build_batch_parser, expand_images, jobs_from_args
from ..batch.engine import (
    Engine,
    InFlight,
    connect,
    drive,
    prepare,
    report,
    require_dask,
    worker_threads,
    write_summary,
)
from ..batch.jobs import Job, input_paths, one_line
from ..image import fit_shape, resize
from .cli import (
    build_video_parser,
    check_frames,
    check_run,
    check_targets,
    require_video_extra,
)
from .clip import frames, open_clip
from .encode import complete
from .run import (
    VideoOptions,
    earlier_frames,
    finished,
    finished_count,
    frame_path,
    remember,
    run_key,
    stylize_frame,
)

NAME = f"{PROG} video batch"
ON_INTERRUPT = (
    "interrupted; the frames finished are kept (rerun the same command to resume each clip)"
)
FORMATS = ("mp4", "mov", "mkv", "gif", "frames")  # frames: no video, the frames' folder only
COLUMNS = ["job", "status", "frames", "seconds", "output", "error"]
VIDEO_SUFFIXES = {".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v", ".mpg", ".mpeg", ".gif"}
DESCRIPTION = (
    "Many clips, or many styles for one clip, on Dask: a local cluster by default, or a running "
    "scheduler. Each option takes several values and the jobs are their product (a value for "
    "an option that takes several is quoted: --long-term '1 10 20 40'); or a --manifest. One "
    "clip is one job: its frames run one after another, the jobs side by side."
)


@dataclass(frozen=True)
class VideoJob:
    name: str  # the output's stem in the batch's folder
    clip: str  # a video file, a folder of frames or a glob (video.clip.open_clip)
    frame: Job  # what every frame is painted with: styles, Settings, LossOptions, masks
    video: VideoOptions  # how the frames hold together


def expand_clips(value, action):
    """A folder or a glob of video files stands for each; any other value is one clip (a video,
    or a folder or glob of frames)."""
    with probing(UsageError, f"{action.option_strings[0]} {value}"):
        path = Path(value).expanduser()
        found = path.iterdir() if path.is_dir() else ()
        found = glob.glob(str(path)) if glob.has_magic(value) else found
        videos = sorted(str(p) for p in found if Path(p).suffix.lower() in VIDEO_SUFFIXES)
    return videos or [value]


def video_job(parsed, name):
    """A VideoJob from one row of options, checked as `minimal-nst video` checks them."""
    content, styles, settings, loss, masks = options(parsed)
    if parsed.content is None:
        raise UsageError("--content is required: video files, folders of frames or globs")
    settings, video = check_run(parsed, settings, loss, styles)
    frame = Job(name, None, tuple(styles), settings, loss, masks)
    return VideoJob(name, str(content), frame, video)


VIDEO_KIND = Kind(
    NAME,
    DESCRIPTION,
    "a video per job, its frames (NAME_frames/), and batch.csv",
    build_video_parser,
    video_job,
    frozenset(SINGLE_ONLY | {"frames"}),
    expand={"content": expand_clips, "style": expand_images},
)


def build_video_batch_parser():
    p = build_batch_parser(VIDEO_KIND)
    group = next(g for g in p._action_groups if g.title == "the batch")
    group.add_argument("--format", choices=FORMATS, default="mp4", help="each job's output")
    return p


def main(argv):
    with StopSignals() as stop:
        return friendly_errors(NAME, lambda: _main(argv, stop), ON_INTERRUPT)


def _main(argv, stop):
    args = build_video_batch_parser().parse_args(argv)
    require_dask()
    require_video_extra()
    engine = Engine(args.scheduler, args.workers)
    jobs = jobs_from_args(args, VIDEO_KIND)
    out_dir = Path(args.output_dir)
    rows = run_video_batch(jobs, out_dir, engine, args.format, args.overwrite, stop)
    return report(NAME, rows, out_dir.expanduser().absolute(), stop)


def run_video_batch(jobs, out_dir, engine=None, fmt="mp4", overwrite=False, stop=None,
                    progress=True):  # fmt: skip
    """Run `jobs` (VideoJob) on `engine` (a batch.Engine; None: a local cluster): NAME.FMT and
    NAME_frames/ for each into out_dir, and batch.csv. Returns the summary's rows, in order."""
    engine = engine or Engine()
    if fmt not in FORMATS:
        raise UsageError(f"format {fmt!r}: one of {', '.join(FORMATS)}")
    out_dir = prepare(Path(out_dir), overwrite)
    rows, todo = plan(jobs, out_dir, fmt, overwrite)
    write_summary(out_dir, rows, COLUMNS)
    encode_only = {k: c for k, c in todo.items() if c.done == c.clip.count}
    for k, chain in encode_only.items():  # every frame painted before: no cluster needed
        chain.finish(rows[k])
    todo = {k: c for k, c in todo.items() if k not in encode_only}
    if todo:
        with connect(engine, [jobs[k].frame for k in todo]) as (client, where):
            say(f"{len(todo)} of {len(jobs)} clips to paint on {where}")
            collect(client, todo, rows, out_dir, stop, progress)
    write_summary(out_dir, rows, COLUMNS)
    return rows


def plan(jobs, out_dir, fmt, overwrite):
    """(a summary row per job, {index of a job to paint: its Chain}).

    A job whose clip or paintings cannot be read, or whose outputs must not be written, fails
    here with its reason; one whose video is complete (--format frames: every frame) is
    skipped."""
    from ..app.files import check_file
    from ..app.options import user_errors

    rows, todo = [], {}
    for k, job in enumerate(jobs):
        video = None if fmt == "frames" else out_dir / f"{job.name}.{fmt}"
        folder = out_dir / f"{job.name}_frames"
        rows.append({"job": job.name, "status": "pending", "output": str(video or folder)})
        try:
            clip, inputs = open_clip(job.clip), input_paths(job.frame)
            for path in inputs:
                check_file(path)
            f = job.frame
            check_frames(clip, list(f.styles), f.settings, f.loss, f.masks)
            check_targets(video, folder, clip, [*inputs, f.settings.weights_path], overwrite)
        except (*user_errors(), OSError) as e:
            rows[k].update(status="failed", error=one_line(e))
            say(f"{job.name}: {rows[k]['error']}")
            continue
        chain = Chain(job, clip, folder, video)
        rows[k]["frames"] = f"{chain.done}/{clip.count}"
        if chain.complete():
            rows[k]["status"] = "skipped"
        else:
            todo[k] = chain
    return rows, todo


class Chain:
    """One clip's frames, painted one after another: the frame in hand (sent, or to send), the
    earlier ones it is held to as they were painted, and where each goes."""

    def __init__(self, job, clip, folder, video):
        self.job, self.clip, self.folder, self.video = job, clip, folder, video
        f = job.frame
        self.key = run_key(clip, f.styles, f.settings, f.loss, job.video, f.masks)
        self.done = finished_count(clip, folder, self.key)  # frames painted, from the first
        self.shape = fit_shape(clip.size[1], clip.size[0], f.settings.size)
        self.history, self.current, self.frames, self.seconds = {}, None, None, 0.0

    def complete(self):
        finished_all = self.done == self.clip.count
        return finished_all and (self.video is None or complete(self.video, self.key))

    def paint(self):
        """What paints the frame in hand on a worker (run_job's paint). Frames travel at the
        size they are painted at: stylize_frame's resize of them is then no change."""
        if self.frames is None:  # the first frame sent: from the first missing one
            self.frames = frames(self.clip)
            self.read_back()
        if self.current is None:
            self.current = resize(next(self.frames), self.shape)
        earlier = earlier_frames(self.history, self.done, self.job.video)
        return functools.partial(paint_frame, self.current, earlier, self.job.video)

    def read_back(self):
        """Past the frames a run before painted, keeping those a later frame is held to (the
        last max(J)), with their stylised frames as written."""
        for k, frame in enumerate(itertools.islice(self.frames, self.done)):
            if self.done - k <= max(self.job.video.earlier):
                painted = finished(frame_path(self.folder, k), self.key)
                if painted is None:
                    raise OSError(f"{frame_path(self.folder, k)} changed since the plan")
                remember(self.history, k, resize(frame, self.shape), painted, self.job.video)

    def painted(self, image):
        """The frame in hand came back painted: write it; the next starts from it."""
        save_image(frame_path(self.folder, self.done), image, text={FRAME_KEY: self.key})
        remember(self.history, self.done, self.current, image, self.job.video)
        self.current, self.done = None, self.done + 1

    def finish(self, row):
        """Every frame painted: the video (unless it is complete), marked with the key; where it
        cannot be written, beside it or in the temp folder (the job failed, its work kept)."""
        from ..app.outputs import write_rescued
        from .cli import reason, write_frames

        if self.frames is not None:
            self.frames.close()  # and with it the clip's file
        row.update(frames=f"{self.done}/{self.clip.count}")
        if self.video is not None and not complete(self.video, self.key):
            paths = [frame_path(self.folder, k) for k in range(self.clip.count)]
            write = lambda p: write_frames(p, paths, self.clip, self.key)  # noqa: E731
            try:
                path, error = write_rescued(self.video, write, self.video.suffix)
            except OSError as e:
                return self.failed(row, one_line(f"could not write the video: {e}"))
            if error is not None:
                why = one_line(f"could not write the video ({reason(error)})")
                row.update(output=str(path))
                return self.failed(row, f"{why}; saved as {path}")
        row.update(status="done")

    def failed(self, row, error):
        row.update(status="failed", error=error)
        say(f"{self.job.name}: {error}")


def paint_frame(frame, earlier, video, job, net, stop):
    """One frame on a worker: stylize_frame with the job's options (run_job's paint)."""
    from ..backend import get_backend

    s = job.settings  # the backend's defaults filled in by video_job
    xp = get_backend(s.backend)
    return stylize_frame(frame, list(job.styles), earlier, net, s, job.loss, video, xp, stop,
                         job.masks)  # fmt: skip


def collect(client, todo, rows, out_dir, stop, progress):
    """Send each clip's frames one at a time, as many clips at once as the cluster has worker
    threads; write each frame as it arrives and send the next; on a stop signal, cancel what
    runs (the frames written stay: a rerun resumes after them)."""
    from tqdm import tqdm

    done = sum(c.done for c in todo.values())
    bar = tqdm(total=sum(c.clip.count for c in todo.values()), initial=done, unit="frame",
               file=sys.stderr, disable=not progress, dynamic_ncols=True)  # fmt: skip
    run = Painting(client, todo, rows, bar, {k: c.job.frame for k, c in todo.items()})
    with bar:  # a clip a worker thread: its frames come one at a time
        drive(run, todo, max(1, worker_threads(client)), out_dir, stop)


class Painting(InFlight):
    """The clips on the cluster: one frame of each in flight at a time, a clip's next frame
    sent when the last comes back."""

    def submit(self, k):
        chain = self.todo[k]
        try:
            paint = chain.paint()
        except Exception as e:  # the clip gave no next frame: damaged, or changed since
            return self.fail(k, one_line(f"frame {chain.done + 1} unreadable: {e!r}"))
        self.send(k, paint=paint)

    def fail(self, k, error):
        chain = self.todo[k]
        self.rows[k].update(status="failed", error=error)
        self.bar.write(f"{NAME}: {chain.job.name}: {error}")
        self.bar.total -= chain.clip.count - chain.done  # the ETA: only the frames to come
        self.bar.refresh()
        self.ship.done(chain.job.frame)

    def arrived(self, future, out_dir):
        k = self.taken(future)
        if k is None:
            return
        chain, row = self.todo[k], self.rows[k]
        try:
            result = future.result()
        except Exception as e:  # the frame raised on its worker, or its workers died
            return self.fail(k, one_line(f"{type(e).__name__}: {e}"))
        if result["error"] is not None:
            return self.fail(k, f"frame {chain.done + 1}: {result['error']}")
        try:
            chain.painted(result["image"])
        except OSError as e:  # the disk full: the frames before it are kept for a rerun
            return self.fail(k, one_line(f"could not write frame {chain.done + 1}: {e}"))
        chain.seconds += result["seconds"]
        row.update(frames=f"{chain.done}/{chain.clip.count}", seconds=round(chain.seconds, 1))
        self.bar.update()
        if chain.done < chain.clip.count:
            self.submit(k)
        else:
            chain.finish(row)
            self.ship.done(chain.job.frame)
        self.keep_summary(out_dir, COLUMNS)


def say(text):
    print(f"{NAME}: {text}", file=sys.stderr, flush=True)
