"""minimal_nst.video: the warp, the flow and its masks, the temporal loss, and a clip end to end
through the command line (Ruder, Dosovitskiy & Brox 2016)."""

import sys

import numpy as np
import pytest
from PIL import Image

from conftest import FINITE_DIFF, numeric_grad, rel_error
from minimal_nst.backend import to_numpy
from minimal_nst.losses import temporal_loss
from minimal_nst.video.flow import consistency, disoccluded, motion_boundary, optical_flow
from minimal_nst.video.warp import warp


def smooth_image(rng, h=40, w=56, channels=3):
    """Values 0-255 that change by a few levels from pixel to pixel: a blurred random field."""
    field = rng.uniform(0, 255, (channels, h // 4 + 2, w // 4 + 2))
    big = np.kron(field, np.ones((4, 4)))[:, :h, :w]
    for axis in (1, 2):  # a box blur along each axis
        big = (np.roll(big, 1, axis) + big + np.roll(big, -1, axis)) / 3
    return big


def smooth_flow(rng, h=40, w=56):
    """A flow of a few pixels that varies smoothly: a rotation and a zoom about a point, plus a
    shift: every kind of sub-pixel position occurs."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    u = 0.05 * (xx - w / 2) - 0.08 * (yy - h / 2) + rng.uniform(-2, 2)
    v = 0.08 * (xx - w / 2) + 0.05 * (yy - h / 2) + rng.uniform(-2, 2)
    return np.stack([u, v], axis=-1)


def test_the_warp_is_opencvs_bilinear_remap(xp):
    """OpenCV's remap with INTER_LINEAR and BORDER_REPLICATE samples at x + u, y + v as ours
    does, but its weights come in steps of 1/32 (INTER_BITS = 5): between the two, at most
    1/64 of a pixel's difference to its neighbour along each axis, so 1/32 of the largest such
    difference bounds it. A swapped u and v, or an off-by-one, is off by whole differences."""
    import cv2

    rng = np.random.default_rng(0)
    image, flow = smooth_image(rng), smooth_flow(rng)
    h, w = image.shape[1:]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    maps = (xx + flow[..., 0]).astype(np.float32), (yy + flow[..., 1]).astype(np.float32)
    expected = np.stack([cv2.remap(c.astype(np.float32), *maps, cv2.INTER_LINEAR,
                                   borderMode=cv2.BORDER_REPLICATE) for c in image])  # fmt: skip
    got = to_numpy(warp(xp.asarray(image), xp.asarray(flow)))
    step = max(np.abs(np.diff(image, axis=a)).max() for a in (1, 2))
    assert np.abs(got - expected).max() <= step / 32
    assert np.abs(got - image).max() > 10 * step / 32  # the flow moved it: the test can fail


def test_a_whole_pixel_shift_moves_the_image_exactly_and_a_ramp_stays_a_ramp(xp):
    """w = (3, -2) everywhere: each pixel takes the value 3 to the right and 2 up (the border
    repeated past the edge). A linear ramp sampled between pixels is the ramp there, exactly."""
    rng = np.random.default_rng(1)
    image = rng.uniform(0, 255, (2, 3, 10, 12))  # leading axes too: (1, 3, H, W) as the network's
    flow = np.broadcast_to(np.array([3.0, -2.0]), (10, 12, 2))
    got = to_numpy(warp(xp.asarray(image), xp.asarray(flow)))
    rows, cols = np.clip(np.arange(10) - 2, 0, 9), np.clip(np.arange(12) + 3, 0, 11)
    np.testing.assert_array_equal(got, image[..., rows[:, None], cols[None, :]])
    ramp = np.add.outer(2.0 * np.arange(10), 3.0 * np.arange(12))[None]  # 2 y + 3 x
    flow = np.broadcast_to(np.array([0.25, 0.5]), (10, 12, 2))
    got = to_numpy(warp(xp.asarray(ramp), xp.asarray(flow)))
    inside = np.s_[:, :-1, :-1]  # where x + 0.25, y + 0.5 is still inside the frame
    assert np.abs(got[inside] - (ramp[inside] + 2 * 0.5 + 3 * 0.25)).max() < 1e-12


def moving_square(h=40, w=60, side=12, shift=5):
    """Frame i-1: a static background; a square at column 20. Frame i: the square 5 px to the
    right. The true flows: forward (i-1 to i) 5 px on the square, 0 elsewhere; backward (i to
    i-1) -5 px on the square's new place, 0 elsewhere."""
    top, left = 14, 20
    forward, backward = np.zeros((h, w, 2)), np.zeros((h, w, 2))
    forward[top : top + side, left : left + side, 0] = shift
    backward[top : top + side, left + shift : left + shift + side, 0] = -shift
    return forward, backward, (top, left, side, shift)


def test_the_masks_drop_the_disoccluded_strip_and_the_motion_boundaries():
    """Behind the moving square (the strip it uncovered) frame i shows what frame i-1 did not:
    the backward flow there is 0, the forward flow carried back is 5 px, they do not cancel.
    The square's own edges are motion boundaries. Far from it everything is trusted."""
    forward, backward, (top, left, side, shift) = moving_square()
    strip = np.s_[top + 1 : top + side - 1, left : left + shift]  # uncovered, inner rows
    hole = disoccluded(forward, backward)
    assert hole[strip].all() and hole.sum() == side * shift  # exactly the uncovered strip
    edges = motion_boundary(backward)
    assert edges[top + side // 2, left + shift] and edges[top + side // 2, left + shift + side - 1]
    assert not edges[top + 3 : top + side - 3, left + shift + 3 : left + shift + side - 3].any()
    c = consistency(forward.astype(np.float32), backward.astype(np.float32))
    assert c.dtype == np.float32 and set(np.unique(c)) == {0.0, 1.0}
    assert (c[strip] == 0).all() and (c[:5] == 1).all() and (c[:, -5:] == 1).all()


def test_the_flow_finds_a_known_shift():
    """DIS on a textured image moved 3 px right and 2 px down: the flow from the first to the
    second is (3, 2) over the interior, to a tenth of a pixel in the median (DIS refines to
    sub-pixel; a sign or axis swap is 4-6 px off)."""
    rng = np.random.default_rng(2)
    big = smooth_image(rng, 100, 120).transpose(1, 2, 0).clip(0, 255).astype(np.uint8)
    a, b = big[10:90, 10:110], big[8:88, 7:107]  # b(x, y) = a(x - 3, y - 2)
    flow = optical_flow(a, b)
    assert flow.shape == (80, 100, 2) and flow.dtype == np.float32
    median = np.median(flow[15:-15, 15:-15].reshape(-1, 2), axis=0)
    assert np.abs(median - [3, 2]).max() < 0.1, median


def test_the_temporal_loss_gradient_matches_finite_differences():
    """L = 1/D sum c (x - w)^2 in float64: its gradient against central differences; pixels with
    c = 0 add nothing and get no gradient, in every channel (per-pixel masking)."""
    rng = np.random.default_rng(3)
    x, w = rng.normal(0, 50, (1, 3, 6, 7)), rng.normal(0, 50, (1, 3, 6, 7))
    c = (rng.uniform(size=(6, 7)) > 0.3).astype(np.float64)
    L, dx = temporal_loss(x, w, c)
    numeric = numeric_grad(lambda v: temporal_loss(v, w, c)[0], x.copy())
    assert rel_error(dx, numeric) < FINITE_DIFF
    assert (dx[..., c == 0] == 0).all()
    masked = np.where(c == 0, 0.0, (x - w) ** 2)  # the masked pixels' part, by hand
    assert abs(L - masked.sum() / x.size) < 1e-12 * L


# -- the command line ------------------------------------------------------------------------


def make_clip(path, count=4, fps=12, sound=True, size=(40, 30)):
    """A small MP4: the generated photo panned 2 px a frame, and a second of a 440 Hz tone."""
    import av

    from conftest import generated_photo

    photo, (w, h) = generated_photo(48, 64), size
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = w, h, "yuv420p"
        audio = out.add_stream("aac", rate=22050) if sound else None
        for k in range(count):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(photo[:h, 2 * k : 2 * k + w]))
            out.mux(video.encode(frame))
        out.mux(video.encode())
        if audio is not None:
            t = np.arange(22050) / 22050
            tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]
            samples = av.AudioFrame.from_ndarray(tone, format="fltp", layout="mono")
            samples.sample_rate = 22050
            out.mux(audio.encode(samples))
            out.mux(audio.encode())
    return path


def probe(path):
    """(frames, frame rate, has sound) of a video file."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        count = sum(1 for _ in container.decode(stream))
        return count, stream.average_rate, bool(container.streams.audio)


VIDEO_FAST = "video --size 32 --iterations 2 --backend numpy"


def test_a_clip_becomes_a_stylised_clip_at_its_rate_with_its_sound(nst, tmp_path, stripes):
    clip = make_clip(tmp_path / "clip.mp4")
    proc = nst(f"{VIDEO_FAST} --content {clip} --style {stripes} --output out.mp4")
    assert proc.returncode == 0, proc.stderr
    assert probe(tmp_path / "out.mp4") == (4, 12, True)
    frames = sorted((tmp_path / "out_frames").iterdir())
    assert [p.name for p in frames] == [f"frame_{k:05d}.png" for k in (1, 2, 3, 4)]
    assert "saved" in proc.stderr.splitlines()[-1]


@pytest.mark.parametrize("suffix", [".mp4", ".mov", ".mkv", ".gif"])
def test_every_container_carries_our_mark_and_the_runs_key(tmp_path, suffix):
    """A rerun may replace a video minimal-nst wrote, in every container it writes (Matroska
    keeps its tags upper case; a GIF its comment where Pillow puts it), and knows a complete
    one by the run's key; a video someone else made is neither."""
    from minimal_nst.video.encode import complete, marked_video, write_video

    path = tmp_path / f"out{suffix}"
    write_video(path, [np.full((16, 18, 3), 40 * k, np.uint8) for k in range(3)], 10, key="k1")
    assert marked_video(path) and complete(path, "k1") and not complete(path, "k2")
    theirs = make_clip(tmp_path / "theirs.mp4", 2, sound=False)
    assert not marked_video(theirs) and not complete(theirs, "k1")


def test_the_run_key_follows_every_input_the_masks_and_the_init_image_too(
    tmp_path, stripes, monkeypatch
):
    """A frame is kept on a rerun only if the same run would paint it: a changed mask or init
    image (same name, new bytes) paints it again, a file only touched does not, and neither
    does a new default (as the batch keys its jobs: app/keys.py)."""
    import os

    from minimal_nst import LossOptions, Settings
    from minimal_nst.video import VideoOptions, open_clip
    from minimal_nst.video.run import run_key

    clip, mask, init = open_clip(frames_folder(tmp_path, 2)), tmp_path / "m.png", tmp_path / "i.png"
    Image.new("L", (8, 8), 255).save(mask)
    Image.new("RGB", (8, 8)).save(init)

    def key():
        return run_key(clip, [stripes], Settings(init=str(init)), LossOptions(), VideoOptions(),
                       [str(mask)])  # fmt: skip

    first = key()
    assert key() == first
    for path, mode in ((mask, "L"), (init, "RGB")):
        stat = path.stat()
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # touched, same bytes
        assert key() == first
        Image.new(mode, (8, 8), 128 if mode == "L" else (9, 9, 9)).save(path)  # new bytes
        assert key() != first
        first = key()
    monkeypatch.setattr("minimal_nst.app.keys.BETA_AT_256", 2e4)  # the default style strength
    assert key() != first


def test_a_rerun_of_a_finished_clip_keeps_its_frames_and_its_video(nst, tmp_path, stripes):
    folder = frames_folder(tmp_path, 2)
    command = f"{VIDEO_FAST} --content {folder} --style {stripes} --output out.mkv"
    assert nst(command).returncode == 0
    made = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("out*")}
    again = nst(command)
    assert again.returncode == 0, again.stderr
    assert {p: p.stat().st_mtime_ns for p in made} == made  # nothing painted, nothing encoded


def frames_folder(tmp_path, count=4):
    """A folder of `count` PNG frames: the generated photo panned 2 px a frame."""
    from PIL import Image

    from conftest import generated_photo

    folder, photo = tmp_path / "frames_in", generated_photo(48, 64)
    folder.mkdir()
    for k in range(count):
        Image.fromarray(photo[:, 2 * k : 2 * k + 50]).save(folder / f"in_{k:03d}.png")
    return folder


def test_a_killed_run_resumes_at_the_first_unfinished_frame(tmp_path, stripes, weights_path):
    """SIGTERM once the second frame is written: exit 143, the frames finished kept. The rerun
    keeps them as they are (not painted again: the same bytes and times) and paints the rest."""
    import signal
    import subprocess
    import sys
    import time

    from conftest import STYLIZE

    folder = frames_folder(tmp_path, 5)
    cmd = [sys.executable, str(STYLIZE), *VIDEO_FAST.split(), "--content", str(folder),
           "--style", str(stripes), "--output", "out", "--weights", str(weights_path)]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    second = tmp_path / "out" / "frame_00002.png"
    deadline = time.time() + 300
    while not second.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 143, err
    kept = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in (tmp_path / "out").iterdir()}
    assert 2 <= len(kept) < 5 and "interrupted" in err.splitlines()[-1]
    again = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert len(list((tmp_path / "out").iterdir())) == 5
    for p, (data, mtime) in kept.items():
        assert p.read_bytes() == data and p.stat().st_mtime_ns == mtime


def assert_video_error(proc, *fragments):
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert len(lines) == 1 and lines[0].startswith("minimal-nst video: error: "), proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_bad_clips_are_one_line_errors_before_any_work(nst, tmp_path, stripes):
    from PIL import Image

    (tmp_path / "text.mp4").write_text("not a video")
    (tmp_path / "empty").mkdir()
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    Image.new("RGB", (40, 30)).save(mixed / "a.png")
    Image.new("RGB", (40, 32)).save(mixed / "b.png")
    folder, clip = frames_folder(tmp_path, 2), make_clip(tmp_path / "clip.mp4", 2, sound=False)
    cases = [
        (f"--content {tmp_path / 'text.mp4'}", "not a video FFmpeg can read"),
        (f"--content {tmp_path / 'empty'}", "no frames there"),
        (f"--content {mixed}", "the frame size changes"),
        (f"--content {tmp_path / 'none.mp4'}", "no such file or folder"),
        (f"--content {folder} --output out.avi", "not a video format minimal-nst writes"),
        (f"--content {folder} --scales 2", "a video runs at one scale"),
        (f"--content {folder} --later-iterations 0", "--later-iterations must be >= 1"),
        (f"--content {folder} --save-every 5", "--save-every is for a single image"),
        (f"--content {folder} --output {folder}", "into the clip's own folder"),
        (f"--content {clip} --output {clip}", "one of its inputs"),
        ("--style x.png", "--content is required"),
    ]
    before = sorted(p.name for p in tmp_path.iterdir())
    for args, fragment in cases:
        assert_video_error(nst(f"{VIDEO_FAST} --style {stripes} {args}"), fragment)
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written


def test_the_video_benchmark_runs_at_toy_size(capsys, tmp_path):
    """bench/video.py, the consistency study, cannot rot: on a 3-frame pan at 32 px every
    figure is a number, and DIS finds the pan's known 2 px to within half a pixel."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "bench" / "video.py"
    spec = importlib.util.spec_from_file_location("video_bench", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    args = "--size 32 --frames 3 --iterations 2 --later-iterations 2 --clips pan --per-pixel 80"
    bench.main([*args.split(), "--out", str(tmp_path), "--gif", str(tmp_path / "a-c.gif")])
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| pan |")]
    assert [row.split(" | ")[1] for row in rows] == [
        "independent", "warped", "temporal", "temporal, lambda = 80 H W"
    ]  # fmt: skip
    for row in rows:
        figures = [float(cell) for cell in row.strip("| ").split(" | ")[2:]]
        assert len(figures) == 5 and all(np.isfinite(figures)) and figures[0] >= 0
    error = float(out.split("mean endpoint error ")[1].split()[0])
    assert 0 <= error < 0.5
    with Image.open(tmp_path / "a-c.gif") as gif:  # (a) beside (c), a 4 px white gap between
        assert gif.n_frames == 3 and gif.size == (2 * 32 + 4, 24)


def test_the_cover_clip_and_its_true_flow_for_the_long_term_study(capsys, tmp_path):
    """bench/video.py's cover clip: its true flow carries each frame onto the next exactly
    wherever the consistency mask trusts it (a whole-pixel bar on a still photo), the bar
    leaves nothing covered in the first and last frames, and the study prints a number for
    every run, the long-term one included."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "bench" / "video.py"
    spec = importlib.util.spec_from_file_location("video_bench", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    flows = bench.generated_clip("cover", 5, (30, 40), tmp_path)
    clip = [np.asarray(Image.open(p), np.float64) for p in sorted(tmp_path.glob("*.png"))]
    assert not bench.bar_at(0, 5, 40).any() and not bench.bar_at(4, 5, 40).any()
    for k in range(1, 5):
        forward, backward = flows[k]
        carried = warp(clip[k - 1].transpose(2, 0, 1), backward).transpose(1, 2, 0)
        trusted = consistency(forward, backward) == 1
        assert np.abs(carried - clip[k])[trusted].max() < 1e-9
        # trusted: the bar where it was on the frame before too, and the photo it did not
        # cover in either frame; a column from the bar's edges aside (motion boundaries)
        step, before = bench.bar_place(k, 5, 40)[2], bench.bar_at(k - 1, 5, 40)
        came = np.flatnonzero(before)[1:-1] + step
        still = np.pad(~before & ~bench.bar_at(k, 5, 40), 1, constant_values=True)
        inner = still[:-2] & still[1:-1] & still[2:]
        assert trusted[:, came[came < 40]].all() and trusted[:, inner].all()
    args = "--size 40 --frames 5 --iterations 2 --later-iterations 2 --clips cover"
    bench.main([*args.split(), "--modes", "temporal", "--long-term", "1,2", "--out", str(tmp_path)])
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| temporal")]
    assert [row.split(" | ")[0] for row in rows] == ["| temporal", "| temporal, J = 1 2"]
    assert all(
        np.isfinite([float(c) for c in row.strip("| ").split(" | ")[1:]]).all() for row in rows
    )


@pytest.mark.parametrize("module", ["av", "cv2"])
def test_without_the_video_extra_the_command_says_how_to_install_it(monkeypatch, module):
    from minimal_nst.app.options import UsageError
    from minimal_nst.video.cli import require_video_extra

    require_video_extra()  # installed here: no error
    monkeypatch.setitem(sys.modules, module, None)  # import now fails
    with pytest.raises(UsageError, match=rf"needs {module}.*pip install 'minimal_nst\[video\]'"):
        require_video_extra()


def test_without_pyav_frames_in_and_frames_or_a_gif_out_still_work(
    tmp_path, stripes, weights_path, monkeypatch, capsys
):
    """PyAV reads and writes video files only: frames in, and frames or a GIF (Pillow's) out,
    need OpenCV alone (as on a machine with no PyAV); a video file asks for it, before any work."""
    from minimal_nst.app.cli import main

    monkeypatch.setitem(sys.modules, "av", None)  # import av now fails
    folder = frames_folder(tmp_path, 2)
    common = [*VIDEO_FAST.split(), "--content", str(folder), "--style", str(stripes),
              "--weights", str(weights_path)]  # fmt: skip
    assert main([*common, "--output", str(tmp_path / "out.gif")]) == 0
    with Image.open(tmp_path / "out.gif") as gif:
        assert gif.n_frames == 2
    assert main([*common, "--output", str(tmp_path / "frames_out")]) == 0
    assert len(list((tmp_path / "frames_out").iterdir())) == 2
    capsys.readouterr()
    before = sorted(tmp_path.rglob("*"))
    assert main([*common, "--output", str(tmp_path / "film.mp4")]) == 2
    assert "video needs av, which is not installed" in capsys.readouterr().err
    assert sorted(tmp_path.rglob("*")) == before  # nothing written


def test_the_objective_adds_the_weighted_temporal_term_and_its_gradient(vgg_numpy):
    """Objective with a Temporal: its loss and gradient are those without, plus lambda times
    L_temporal and its gradient (float32 sums of a few thousand terms: 1e-5 of their size)."""
    from conftest import FLOAT32_OP, generated_photo, generated_stripes
    from minimal_nst.image import preprocess
    from minimal_nst.objective import Objective, Temporal

    content, style = preprocess(generated_photo(32, 40)), preprocess(generated_stripes(32))
    rng = np.random.default_rng(4)
    x = content + rng.normal(0, 20, content.shape).astype(np.float32)
    w = content + rng.normal(0, 20, content.shape).astype(np.float32)
    c = (rng.uniform(size=(32, 40)) > 0.5).astype(np.float32)
    plain = Objective(vgg_numpy, content, [style])
    held = Objective(vgg_numpy, content, [style], temporal=Temporal(w, c, 1e6))
    (L0, g0), (L1, g1) = plain.loss_and_grad(x), held.loss_and_grad(x)
    Lt, gt = temporal_loss(x.astype(np.float64), w.astype(np.float64), c)
    assert held.terms["temporal"] == pytest.approx(Lt, rel=FLOAT32_OP)
    assert L1 - L0 == pytest.approx(1e6 * Lt, rel=FLOAT32_OP * L1 / (1e6 * Lt))
    assert rel_error(g1 - g0, 1e6 * gt) < FLOAT32_OP * np.abs(g1).max() / np.abs(1e6 * gt).max()


def test_a_clip_runs_on_either_backend_with_the_temporal_term(xp, tmp_path, stripes, vgg_numpy):
    """The frame loop end to end on each backend (on CuPy, or its strict stand-in in CI: the
    warp, the mask and the warped start on the device, no host array mixed in): every frame
    after the first has a temporal term, and a second call keeps the frames it finds."""
    from minimal_nst import Settings
    from minimal_nst.video import VideoOptions, open_clip, stylize_video

    clip, seen = open_clip(str(frames_folder(tmp_path, 3))), []
    settings = Settings(size=32, iterations=2, backend=xp.__name__)
    net = vgg_numpy if xp is np else None  # on CuPy, loaded there
    run = dict(net=net, video=VideoOptions(later_iterations=2))
    paths = stylize_video(clip, str(stripes), tmp_path / "out", settings, **run,
                          on_frame=lambda k, path, result: seen.append(result))  # fmt: skip
    assert [p.name for p in paths] == ["frame_00001.png", "frame_00002.png", "frame_00003.png"]
    assert ["temporal" in r.history[-1] for r in seen] == [False, True, True]
    seen.clear()
    assert stylize_video(clip, str(stripes), tmp_path / "out", settings, **run,
                         on_frame=lambda k, path, result: seen.append(result)) == paths  # fmt: skip
    assert seen == [None, None, None]  # all three kept


# -- the long-term loss ------------------------------------------------------------------------


def test_the_long_term_weights_hold_each_pixel_to_the_nearest_frame_that_saw_it():
    """c_long^(i-j) = max(c^(i-j) - sum_{k<j} c^(i-k), 0): with 0/1 masks, each pixel's weight
    goes to the nearest earlier frame that saw it, and to no other; soft masks never go
    negative."""
    from minimal_nst.losses import long_term_weights

    rng = np.random.default_rng(5)
    cs = [(rng.uniform(size=(6, 7)) > 0.5).astype(np.float64) for _ in range(4)]
    weights = long_term_weights(cs)
    nearest = np.argmax(np.stack(cs), axis=0)  # the first j whose mask is 1
    seen = np.stack(cs).any(axis=0)
    for j, c_long in enumerate(weights):
        np.testing.assert_array_equal(c_long, (seen & (nearest == j)).astype(np.float64))
    soft = long_term_weights([rng.uniform(size=(6, 7)) for _ in range(3)])
    assert all((c >= 0).all() and (c <= 1).all() for c in soft)
    np.testing.assert_array_equal(long_term_weights(cs[:1])[0], cs[0])  # J = {1}: c itself


def test_the_objective_sums_one_temporal_term_per_earlier_frame(vgg_numpy):
    """L_longterm: the objective with two Temporal terms is the plain one plus each weighted
    term, as the two evaluated one at a time."""
    from conftest import FLOAT32_OP, generated_photo, generated_stripes
    from minimal_nst.image import preprocess
    from minimal_nst.objective import Objective, Temporal

    content, style = preprocess(generated_photo(32, 40)), preprocess(generated_stripes(32))
    rng = np.random.default_rng(6)
    x, (w1, w2) = content + 5, [content + rng.normal(0, 20, content.shape).astype(np.float32)
                                for _ in range(2)]  # fmt: skip
    c1, c2 = [(rng.uniform(size=(32, 40)) > 0.5).astype(np.float32) for _ in range(2)]
    t1, t2 = Temporal(w1, c1, 3e5), Temporal(w2, c2, 7e5)
    (L0, g0), (L1, g1), (L2, g2), (L12, g12) = [
        Objective(vgg_numpy, content, [style], temporal=t).loss_and_grad(x)
        for t in (None, t1, t2, [t1, t2])
    ]
    # float32 totals: a rounding of the whole total, seen against the part that differs
    assert L12 - L0 == pytest.approx((L1 - L0) + (L2 - L0), rel=FLOAT32_OP * L12 / (L12 - L0))
    both = (g1 - g0) + (g2 - g0)
    assert rel_error(g12 - g0, both) < FLOAT32_OP * np.abs(g12).max() / np.abs(both).max()


def test_each_frame_is_held_to_every_earlier_frame_of_j_that_the_clip_has(
    tmp_path, stripes, vgg_numpy, monkeypatch
):
    """J = (1, 2): frame 1 is held to frame 0 alone, frames 2 and 3 to the two before them; the
    masks split each pixel between them (long_term_weights), and each frame starts from the one
    before it warped."""
    from minimal_nst import Settings
    from minimal_nst.video import VideoOptions, open_clip, run, stylize_video

    terms, real = [], run.stylize

    def spy(*args, temporal=None, **kw):
        terms.append(temporal)
        return real(*args, temporal=temporal, **kw)

    monkeypatch.setattr(run, "stylize", spy)
    clip = open_clip(str(frames_folder(tmp_path, 4)))
    video = VideoOptions(later_iterations=2, earlier=(1, 2))
    stylize_video(clip, str(stripes), tmp_path / "out", Settings(size=32, iterations=2),
                  net=vgg_numpy, video=video)  # fmt: skip
    assert [None if t is None else len(t) for t in terms] == [None, 1, 2, 2]
    for held in terms[2:]:
        (_, c1, _), (_, c2, _) = held
        assert (c1 + c2 <= 1 + 1e-6).all() and (c2[c1 == 1] == 0).all()
