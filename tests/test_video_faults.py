"""`minimal-nst video` held to the image command's promises, as a hostile user tries it:

- bad input is one line and exit code 2 before any work: no progress bar drawn, no folder made,
  whatever is wrong (a name too long, a folder that cannot be written, a size too small for the
  layers or too large for the memory, an option that does nothing in the mode asked for);
- nothing is lost: a frame that cannot be written (the disk full) keeps the frames before it
  for a rerun; a video that cannot be written where asked is written beside it or in the temp
  folder, and the message says where (exit 1);
- a clip is read as it plays: a phone's rotation metadata and a photo's EXIF orientation
  applied, frames of a folder in natural order (2 before 10), a single image a clip of one.

Faults a machine cannot always stage are injected by tests/faults.py; an immutable folder or
file is real where chattr +i works.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image
from test_nothing_lost import command, full_disk  # noqa: F401  (full_disk: a fixture)
from test_video import VIDEO_FAST, frames_folder, make_clip, probe
from test_video import assert_video_error as one_line_before_any_work  # exit 2, 1 line

from conftest import generated_photo
from minimal_nst.video import open_clip
from minimal_nst.video.clip import frames

VIDEO = VIDEO_FAST.split()
LONG_NAME = "a" * 300  # over the 255 bytes a name may have on every common file system


@pytest.fixture
def video(tmp_path, weights_path, stripes):
    """video(args, fault="none", env=None): `minimal-nst video` with the test's painting, run
    in tmp_path (tests/faults.py FAULT when a fault is named)."""

    def run(args, fault="none", env=None):
        args = [*VIDEO, "--style", stripes, *map(str, args)]
        cmd = command(fault, args, weights_path)
        env = {**os.environ, **(env or {})}
        return subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, env=env,
                              timeout=300)  # fmt: skip

    return run


def tree(folder):
    """Every path under folder, with each file's bytes' digest: what a run must leave alone."""
    return {p: (p.read_bytes() if p.is_file() else None) for p in sorted(folder.rglob("*"))}


def last_line(proc, code, *fragments):
    """Exit `code`, no traceback, and the last line of stderr (after the progress bar) saying
    each fragment."""
    assert proc.returncode == code and "Traceback" not in proc.stderr, proc.stderr
    line = proc.stderr.strip().splitlines()[-1]
    assert line.startswith("minimal-nst video: "), proc.stderr
    for fragment in fragments:
        assert fragment in line, line
    return line


def chattr(path, flag):
    return subprocess.run(["chattr", flag, str(path)], capture_output=True).returncode == 0


# -- 1. bad input: one line, exit 2, before any work ---------------------------------------------


CASES = [  # (the arguments after --content CLIP, what the line must say)
    ("--size 8", "too small for relu5_1"),
    ("--size 60000", "needs about"),
    ("--init missing.png", "no such file"),
    ("--weights notes.txt", "not the expected VGG-19 weights file"),
    ("--content-masks m.png m.png m.png", "mask"),
    ("--mode independent --temporal-weight 5", "--temporal-weight does nothing in --mode indep"),
    ("--mode warped --long-term 1 10", "--long-term does nothing in --mode warped"),
    ("--mode independent --later-iterations 3", "--later-iterations does nothing"),
    ("--mode independent --flow fast", "--flow does nothing in --mode independent"),
    (f"--output {LONG_NAME}.mp4", "too long"),
    (f"--output out.mp4 --frames {LONG_NAME}", "File name too long"),
    (f"--output {LONG_NAME}", "File name too long"),
    ("--output notes.txt/out.mp4", "Not a directory"),
    ("--output .", "holds other files"),
    ("--output notes.txt", "not a video format"),
    ("--output out.mp4 --frames out.mp4", "which is a directory (or --frames)"),
]


@pytest.mark.parametrize("args, fragment", CASES, ids=[c[0][:40] for c in CASES])
def test_bad_input_is_one_line_before_any_work(video, tmp_path, args, fragment):
    clip = frames_folder(tmp_path, 2)
    (tmp_path / "notes.txt").write_text("a user's file")
    Image.new("L", (50, 48), 255).save(tmp_path / "m.png")
    before = tree(tmp_path)
    one_line_before_any_work(video(["--content", clip, *args.split()]), fragment)
    assert tree(tmp_path) == before  # no folder made, no frame written


def test_a_clip_named_longer_than_a_name_may_be_is_one_line(video, tmp_path):
    before = tree(tmp_path)
    one_line_before_any_work(video(["--content", f"{LONG_NAME}.mp4"]), "File name too long")
    assert tree(tmp_path) == before


@pytest.mark.parametrize("frames", ["beside", "elsewhere"])
def test_a_folder_that_takes_no_files_is_one_line_before_any_work(video, tmp_path, frames):
    """An immutable folder (chattr +i; where that cannot be set, creating in it fails as it
    would) for the video, its frames beside it or elsewhere: neither can go there, and that is
    found before any work, not once every frame is painted."""
    clip, locked = frames_folder(tmp_path, 2), tmp_path / "locked"
    locked.mkdir()
    real = chattr(locked, "+i")
    try:
        before = tree(tmp_path)
        fault = ("none", None) if real else ("locked-dir", {"FAULT_DIR": str(locked)})
        where = ["--frames", tmp_path / "frames"] if frames == "elsewhere" else []
        proc = video(["--content", clip, "--output", locked / "out.mp4", *where], *fault)
        one_line_before_any_work(proc, str(locked))
        assert tree(tmp_path) == before
    finally:
        chattr(locked, "-i")


# -- 2. nothing lost -----------------------------------------------------------------------------


def test_the_disk_filling_up_while_frames_are_written_keeps_what_is_done(
    video,
    tmp_path,
    full_disk,  # noqa: F811
):
    """The frames' folder on a full disk: the run says which frame it could not write and that
    a rerun resumes (exit 1); rerun where there is room, it finishes."""
    folder, fault = full_disk
    clip = frames_folder(tmp_path, 2)
    args = ["--content", clip, "--output", "out.mp4", "--frames", folder / "frames"]
    proc = video(args, fault, env={"FAULT_DIR": str(folder)})
    last_line(proc, 1, "could not write frame 1", "No space left", "rerun to resume")
    again = video(["--content", clip, "--output", "out.mp4"])
    last_line(again, 0, "saved")
    assert probe(tmp_path / "out.mp4")[0] == 2


def test_the_disk_filling_up_while_the_video_is_encoded_saves_it_elsewhere(
    video,
    tmp_path,
    full_disk,  # noqa: F811
):
    """The video on a full disk, its frames elsewhere: it is written to the temp folder, the
    message says where (exit 1), and it holds every frame."""
    folder, fault = full_disk
    clip = frames_folder(tmp_path, 3)
    args = ["--content", clip, "--output", folder / "out.mp4", "--frames", "frames"]
    proc = video(args, fault, env={"FAULT_DIR": str(folder)})
    line = last_line(proc, 1, "could not write", "saved it as")
    rescued = Path(line.split("saved it as ")[1])
    try:
        assert not str(rescued).startswith(str(folder)) and probe(rescued)[0] == 3
    finally:
        rescued.unlink()
    assert len(list((tmp_path / "frames").iterdir())) == 3  # the frames stay too


def test_a_video_that_cannot_be_replaced_is_found_before_or_saved_beside_it(video, tmp_path):
    """A rerun with another option over a video the first run made: immutable (chattr +i), it
    is said before any work; where that cannot be staged, the rename onto it fails at the end
    (an injected EPERM) and the video is written beside it, the message saying where."""
    clip = frames_folder(tmp_path, 2)
    args = ["--content", clip, "--output", "out.mp4"]
    last_line(video(args), 0, "saved")
    out = tmp_path / "out.mp4"
    real = chattr(out, "+i")
    try:
        if real:
            before = tree(tmp_path)
            proc = video([*args, "--content-weight", "2"])
            one_line_before_any_work(proc, "cannot be replaced")
            assert tree(tmp_path) == before
        else:
            proc = video([*args, "--content-weight", "2"], "cannot-replace", {"FAULT_FILE": out})
            line = last_line(proc, 1, "could not write", "saved it as")
            assert Path(line.split("saved it as ")[1]) == tmp_path / "out.rescued-1.mp4"
    finally:
        chattr(out, "-i")


def test_a_failed_rename_at_the_end_saves_the_video_beside_it(video, tmp_path):
    """The rename onto the output fails once every frame is painted (EPERM injected): the video
    is written beside it under a free name, every frame in it, and the message says where."""
    clip = frames_folder(tmp_path, 2)
    out = tmp_path / "out.mp4"
    proc = video(["--content", clip, "--output", out], "cannot-replace", {"FAULT_FILE": out})
    line = last_line(proc, 1, "could not write", "saved it as")
    rescued = Path(line.split("saved it as ")[1])
    assert rescued == tmp_path / "out.rescued-1.mp4" and probe(rescued)[0] == 2
    assert not out.exists()


# -- 3. the clip as it plays ---------------------------------------------------------------------


def phone_clip(path, degrees, count=2):
    """Frames stored 48x32 with a white block in the stored top-left corner, and a display
    matrix asking for a turn of `degrees` counter-clockwise (PyAV's convention, FFmpeg's
    av_display_rotation_get; a phone held upright records 90 or 270 so): it plays 32x48."""
    import av

    photo = generated_photo(32, 48)
    photo[:12, :16] = 255
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 48, 32, "yuv420p"
        stream.set_display_rotation(degrees)
        for _ in range(count):
            out.mux(stream.encode(av.VideoFrame.from_ndarray(photo, format="rgb24")))
        out.mux(stream.encode())
    return path


@pytest.mark.parametrize("degrees, corner", [(90, "bottom-left"), (270, "top-right"),
                                             (0, "top-left")])  # fmt: skip
def test_a_phone_clip_is_read_upright(tmp_path, degrees, corner):
    """Turned 90 counter-clockwise the stored top-left corner is at the bottom left; 270, at the
    top right. The block is white on a darker photo: its corner is the brightest."""
    clip = open_clip(phone_clip(tmp_path / "phone.mp4", degrees))
    upright = (48, 32) if degrees == 0 else (32, 48)
    assert clip.size == upright  # (width, height) as it plays
    first = next(frames(clip)).astype(float)
    assert first.shape == (upright[1], upright[0], 3)
    h, w = first.shape[:2]
    corners = {
        "top-left": first[:12, :12], "top-right": first[:12, w - 12 :],
        "bottom-left": first[h - 12 :, :12], "bottom-right": first[h - 12 :, w - 12 :],
    }  # fmt: skip
    means = {name: block.mean() for name, block in corners.items()}
    assert max(means, key=means.get) == corner and means[corner] > 250, means


def test_a_phone_clip_comes_out_upright_and_plays_as_it_played(video, tmp_path):
    """Stored 48x32, played 32x48: painted at --size 32 it is 21x32 as it plays, stored so
    (H.264's even sides: 22x32), with no rotation left for a player to apply twice."""
    import av

    clip = phone_clip(tmp_path / "phone.mp4", 90)
    last_line(video(["--content", clip, "--output", "out.mp4"]), 0, "saved")
    with av.open(str(tmp_path / "out.mp4")) as container:
        frame = next(container.decode(container.streams.video[0]))
        assert (frame.width, frame.height, frame.rotation) == (22, 32, 0)
    with Image.open(tmp_path / "out_frames" / "frame_00001.png") as im:
        assert im.size == (21, 32)


def test_photos_turned_by_exif_are_frames_of_the_size_they_show(tmp_path):
    """Frames a camera stored 40x30 with EXIF orientation 6 (turn to show): 30x40 frames, as
    the image command reads each."""
    folder = tmp_path / "turned"
    folder.mkdir()
    for k in range(2):
        exif = Image.Exif()
        exif[0x0112] = 6
        Image.fromarray(generated_photo(30, 40)).save(folder / f"{k}.jpg", exif=exif)
    clip = open_clip(folder)
    assert clip.size == (30, 40) and next(frames(clip)).shape == (40, 30, 3)


def test_frames_of_a_folder_or_a_glob_come_in_natural_order(tmp_path):
    """Unpadded numbers, as most tools write them: 1, 2, ..., 10, 11, not 1, 10, 11, 2."""
    folder = tmp_path / "unpadded"
    folder.mkdir()
    for k in range(1, 12):
        Image.new("RGB", (20, 16), (k, k, k)).save(folder / f"shot_{k}.png")
    expected = [f"shot_{k}.png" for k in range(1, 12)]
    assert [p.name for p in open_clip(folder).images] == expected
    assert [p.name for p in open_clip(f"{folder}/shot_*.png").images] == expected
    assert [int(f[0, 0, 0]) for f in frames(open_clip(folder))] == list(range(1, 12))


def test_a_single_image_is_a_clip_of_one_frame_even_without_pyav(
    tmp_path, stripes, weights_path, monkeypatch
):
    """What PyAV would read as a one-frame video is read by Pillow, as the image command reads
    it: with no PyAV installed it is still a clip, not ModuleNotFoundError."""
    from minimal_nst.app.cli import main

    monkeypatch.setitem(sys.modules, "av", None)  # import av now fails
    photo = tmp_path / "photo.png"
    Image.fromarray(generated_photo(48, 50)).save(photo)
    assert open_clip(photo).count == 1
    argv = [*VIDEO, "--content", photo, "--style", stripes, "--weights", weights_path]
    assert main([*map(str, argv), "--output", str(tmp_path / "one.gif")]) == 0
    with Image.open(tmp_path / "one.gif") as gif:
        assert gif.n_frames == 1


def test_a_clip_in_its_own_words_is_one_line(video, tmp_path):
    """A video file PyAV cannot decode, named .png: the image reader's one line, not FFmpeg's."""
    make_clip(tmp_path / "clip.mp4", 2, sound=False)
    (tmp_path / "fake.png").write_bytes((tmp_path / "clip.mp4").read_bytes())
    one_line_before_any_work(video(["--content", "fake.png"]), "fake.png")
