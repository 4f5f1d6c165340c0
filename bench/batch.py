"""Throughput of a batch: a plain loop against Dask's local cluster, split two ways.

    python bench/batch.py [--jobs 8] [--size 128] [--iterations 50] [--video FRAMES]

The same jobs (the demo photo and painting, a different style weight each) three ways:
  loop   one process, one job after another, all cores as BLAS threads, each job's files
         written as the batch writes them (no engine at all)
  1x{c}  `minimal-nst batch`'s engine: a LocalCluster of 1 worker x c BLAS threads
  {c}x1  c workers x 1 BLAS thread
Wall time from the first job to the last output written, cluster start-up and each worker's
loading of VGG-19 included; the loop loads VGG-19 once too. One line per figure.
With --video FRAMES, each job is a clip (`minimal-nst video batch`): the demo photo panned 2 px
a frame, FRAMES frames, --iterations the first frame's (the later ones half); the loop is
stylize_video, one clip after another.
"""

import argparse
import dataclasses
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from minimal_nst import LossOptions, Settings  # noqa: E402
from minimal_nst.app.api import DEFAULT_STYLE, default_content_path  # noqa: E402
from minimal_nst.batch.engine import Engine, run_batch, write_outputs  # noqa: E402
from minimal_nst.batch.jobs import Job, blas_threads, input_digests, job_key, read_inputs, run_job  # noqa: E402


def make_video_jobs(n, size, iterations, folder, frames):
    """n clips of `frames` frames (the demo photo panned), a different style weight each."""
    from minimal_nst.transfer import with_defaults
    from minimal_nst.video import VideoOptions
    from minimal_nst.video.batch import VideoJob

    photo = np.asarray(Image.open(default_content_path()).convert("RGB"))
    w = photo.shape[1] * 4 // 5
    for k in range(frames):
        Image.fromarray(photo[:, 2 * k : 2 * k + w]).save(Path(folder) / f"f{k:03d}.png")
    images = make_jobs(n, size, iterations)
    frame = lambda j: dataclasses.replace(j, settings=with_defaults(j.settings))  # noqa: E731
    return [VideoJob(j.name, str(folder), frame(j), VideoOptions()) for j in images]


def video_loop(jobs, threads, out):
    """One clip after another, in this process: stylize_video, which writes each frame."""
    from minimal_nst.video import open_clip, stylize_video

    for job in jobs:
        f = job.frame
        with blas_threads(threads):
            stylize_video(open_clip(job.clip), list(f.styles), Path(out) / job.name, f.settings,
                          f.loss, job.video)  # fmt: skip


def make_jobs(n, size, iterations):
    settings = Settings(size=size, iterations=iterations, backend="numpy")
    content, style = str(default_content_path()), str(DEFAULT_STYLE)
    return [
        Job(f"job{k}", content, (style,), settings, LossOptions(beta=1e3 * 1.5**k))
        for k in range(n)
    ]


def loop(jobs, threads, out):
    """The plain loop a user would write: each job run and its files written, as the batch does."""
    for job in jobs:
        result = run_job(job, read_inputs(job), threads)
        assert result["error"] is None, result["error"]
        write_outputs(Path(out) / f"{job.name}.png", result, job_key(job, input_digests(job)))


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--jobs", type=int, default=8)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--iterations", type=int, default=50)
    p.add_argument("--video", type=int, metavar="FRAMES", help="each job a clip of FRAMES frames")
    args = p.parse_args()
    cores = os.cpu_count() or 1
    clip = tempfile.TemporaryDirectory()
    if args.video:
        jobs = make_video_jobs(args.jobs, args.size, args.iterations, clip.name, args.video)
        plain, batch, unit = video_loop, run_video_batch, "clips"
    else:
        jobs = make_jobs(args.jobs, args.size, args.iterations)
        plain, batch, unit = loop, run_batch, "images"
    print(f"{len(jobs)} jobs, {args.size} px, {args.iterations} iterations, {cores} cores"
          + (f", {args.video} frames a clip" if args.video else ""))  # fmt: skip
    with tempfile.TemporaryDirectory() as out:
        seconds = {"loop": timed(lambda: plain(jobs, cores, out))}
    for workers in (1, cores):
        with tempfile.TemporaryDirectory() as out:
            engine = Engine(workers=workers)
            run = lambda: batch(jobs, Path(out), engine, progress=False)  # noqa: B023, E731
            seconds[f"{workers}x{cores // workers}"] = timed(run)
    clip.cleanup()
    for name, s in seconds.items():
        extra = 100 * (s / seconds["loop"] - 1)
        print(f"{name:>6}: {s:7.1f} s, {3600 * len(jobs) / s:6.0f} {unit}/hour, "
              f"{extra:+5.1f}% time against the loop")  # fmt: skip


def run_video_batch(jobs, out_dir, engine, progress):
    from minimal_nst.video.batch import run_video_batch as run

    rows = run(jobs, out_dir, engine, "frames", progress=progress)
    assert {r["status"] for r in rows} == {"done"}, rows


if __name__ == "__main__":
    main()
