"""`minimal-nst video batch`: many clips, or many styles for one, on Dask (127.0.0.1 only).

A video batch is `minimal-nst video` many times: every frame equals what stylize_video paints
for its job, pixel for pixel, a resume mid-clip included. A bad clip fails only its own job; a
mistake on the command line stops the batch before any work; a rerun skips what is complete.
"""

import csv
import shlex
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image
from test_video import frames_folder, make_clip, probe

from conftest import STYLIZE, generated_stripes
from minimal_nst import Settings
from minimal_nst.batch.args import jobs_from_args
from minimal_nst.batch.jobs import blas_threads
from minimal_nst.video import open_clip, stylize_video
from minimal_nst.video.batch import VIDEO_KIND, build_video_batch_parser

TINY = "--size 32 --iterations 4 --backend numpy"


@pytest.fixture
def styles(tmp_path):
    Image.fromarray(generated_stripes()).save(tmp_path / "stripes.png")
    Image.fromarray(generated_stripes()[:, ::-1].copy()).save(tmp_path / "mirror.png")
    return tmp_path / "stripes.png", tmp_path / "mirror.png"


@pytest.fixture
def video_batch(tmp_path, weights_path):
    """video_batch("--content ...") runs `minimal-nst video batch` in tmp_path as a user would."""

    def run(*parts, wait=True):
        words = shlex.split(" ".join(map(str, parts)))  # '1 2': one value of one job
        args = ["video", "batch", *words, "--weights", weights_path]
        cmd = [sys.executable, str(STYLIZE), *map(str, args)]
        if not wait:
            return subprocess.Popen(cmd, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
        return subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)

    return run


def summary(out_dir):
    with open(out_dir / "batch.csv", newline="") as f:
        return {row["job"]: row for row in csv.DictReader(f)}


def frames_of(folder):
    return [np.asarray(Image.open(p).convert("RGB")) for p in sorted(folder.iterdir())]


def single_run(clip, style, tmp_path, weights_path):
    """The frames `minimal-nst video` paints for this job, in this process, one BLAS thread as
    on a worker of a 2-worker cluster (a thread count changes float32 sums' order)."""
    folder = tmp_path / f"single_{clip.name}_{style.stem}"
    settings = Settings(size=32, iterations=4, backend="numpy",
                        weights_path=weights_path)  # fmt: skip
    with blas_threads(1):
        stylize_video(open_clip(clip), str(style), folder, settings)
    return frames_of(folder)


def test_a_video_batch_equals_the_single_video_runs(tmp_path, styles, video_batch, weights_path):
    clip, folder = make_clip(tmp_path / "clip.mp4"), frames_folder(tmp_path, 3)
    proc = video_batch(f"--content {clip} {folder} --style", *styles, TINY,
                       "--workers 2 --output-dir out")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    rows, out = summary(tmp_path / "out"), tmp_path / "out"
    names = {f"{c}__{s}" for c in ("clip", "frames_in") for s in ("stripes", "mirror")}
    assert set(rows) == names and {r["status"] for r in rows.values()} == {"done"}
    for name in names:
        source = clip if name.startswith("clip") else folder
        style = styles[0] if name.endswith("stripes") else styles[1]
        painted, single = (
            frames_of(out / f"{name}_frames"),
            single_run(source, style, tmp_path, weights_path),
        )
        assert len(painted) == len(single) == (4 if source == clip else 3)
        for ours, theirs in zip(painted, single):
            np.testing.assert_array_equal(ours, theirs)
    assert probe(out / "clip__stripes.mp4") == (4, 12, True)  # the rate and the sound kept
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.name != "batch.csv"}
    again = video_batch(f"--content {clip} {folder} --style", *styles, TINY,
                        "--workers 2 --output-dir out")  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert {r["status"] for r in summary(out).values()} == {"skipped"}
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps  # nothing painted or encoded


def test_an_interrupted_video_batch_resumes_mid_clip(tmp_path, styles, video_batch, weights_path):
    """SIGINT once frame 2 is written: exit 130, the frames written kept. The rerun keeps them
    as they are and paints the rest from the earlier ones as read back (J = 1 2: the last two):
    the same frames as one uninterrupted batch. Like with like, so bit for bit: the same engine,
    one worker with the same BLAS threads (a thread count or another kernel may change how
    OpenBLAS rounds a float32 product, and the frames by a grey level or more)."""
    folder = frames_folder(tmp_path, 6)
    command = f"--content {folder} --style {styles[0]} --size 32 --iterations 20 --backend numpy"
    command += " --workers 1 --output-dir out --format gif --long-term '1 2'"
    first = video_batch(command, wait=False)
    frames = tmp_path / "out" / "frames_in__stripes_frames"
    deadline = time.time() + 240
    while not (frames / "frame_00002.png").exists() and time.time() < deadline:
        assert first.poll() is None, first.stderr.read()
        time.sleep(0.05)
    first.send_signal(signal.SIGINT)
    assert first.wait(120) == 130, first.stderr.read()
    assert summary(tmp_path / "out")["frames_in__stripes"]["status"] == "cancelled"
    kept = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in frames.iterdir()}
    assert 2 <= len(kept) < 6 and not (tmp_path / "out" / "frames_in__stripes.gif").exists()

    again = video_batch(command)
    assert again.returncode == 0, again.stderr
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in kept} == kept
    whole = video_batch(command.replace("--output-dir out", "--output-dir whole"))
    assert whole.returncode == 0, whole.stderr
    uninterrupted = frames_of(tmp_path / "whole" / "frames_in__stripes_frames")
    for ours, theirs in zip(frames_of(frames), uninterrupted, strict=True):
        np.testing.assert_array_equal(ours, theirs)
    with Image.open(tmp_path / "out" / "frames_in__stripes.gif") as gif:
        assert gif.n_frames == 6


def test_a_bad_clip_fails_only_its_own_job(tmp_path, styles, video_batch):
    (tmp_path / "notes.mp4").write_text("not a video")
    folder = frames_folder(tmp_path, 2)
    proc = video_batch(f"--content {folder} notes.mp4 gone.mp4 --style {styles[0]}", TINY,
                       "--workers 1 --output-dir out --format frames")  # fmt: skip
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    rows = summary(tmp_path / "out")
    assert {k: r["status"] for k, r in rows.items()} == {
        "frames_in__stripes": "done", "notes__stripes": "failed", "gone__stripes": "failed"
    }  # fmt: skip
    assert "not a video FFmpeg can read" in rows["notes__stripes"]["error"]
    assert "no such file or folder" in rows["gone__stripes"]["error"]
    assert len(list((tmp_path / "out" / "frames_in__stripes_frames").iterdir())) == 2
    assert "1 done, 2 failed" in proc.stderr
    said = proc.stderr.splitlines()  # each failed clip named on stderr too, not only in batch.csv
    assert any("notes__stripes: " in x and "not a video FFmpeg can read" in x for x in said)
    assert any("gone__stripes: " in x and "no such file or folder" in x for x in said)


def jobs_of(command):
    return jobs_from_args(build_video_batch_parser().parse_args(command.split()), VIDEO_KIND)


def test_a_folder_of_videos_is_a_job_each_and_a_folder_of_frames_one_clip(tmp_path, styles):
    clips = tmp_path / "clips"
    clips.mkdir()
    for name in ("b.mp4", "a.mov"):
        (clips / name).write_bytes(b"")  # the names decide; the files are read when planning
    folder = frames_folder(tmp_path, 2)
    jobs = jobs_of(f"--content {clips} {folder} --style {styles[0]} {styles[1]} --mode "
                   "independent temporal")  # fmt: skip
    assert [(j.clip, j.frame.styles[0], j.video.mode) for j in jobs[:2]] == [
        (str(clips / "a.mov"), str(styles[0]), "independent"),
        (str(clips / "a.mov"), str(styles[0]), "temporal"),
    ]
    assert len(jobs) == 3 * 2 * 2 and {j.clip for j in jobs} == {
        str(clips / "a.mov"), str(clips / "b.mp4"), str(folder)
    }  # fmt: skip
    assert jobs[-1].name == "frames_in__mirror__mode-temporal"


@pytest.mark.parametrize(
    "args, message",
    [
        ("--scales 2", "a video runs at one scale"),
        ("--later-iterations 0", "--later-iterations must be >= 1"),
        ("--format avi", "argument --format: invalid choice"),
        ("--temporal-weight -1", "--temporal-weight must be >= 0"),
        ("--long-term '2 3'", "--long-term: whole numbers >= 1, 1 among them"),
    ],
)
def test_a_mistake_on_the_command_line_stops_the_video_batch_before_any_work(
    tmp_path, styles, video_batch, args, message
):
    folder = frames_folder(tmp_path, 2)
    before = sorted(p.name for p in tmp_path.iterdir())
    proc = video_batch(f"--content {folder} --style {styles[0]}", TINY, args)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert lines[0].startswith("minimal-nst video batch: error: ") and message in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == before
