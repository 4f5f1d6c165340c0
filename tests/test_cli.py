"""The command line as a user meets it: every bad input is one clear line and exit code 2, nothing
is lost or overwritten, odd image formats simply work, Ctrl-C keeps the best image so far."""

import hashlib
import os
import signal
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import assert_one_line_error, files_in
from minimal_nst.app.options import options, parse_args
from minimal_nst.backend import cupy_unavailable_reason

ROOT = Path(__file__).resolve().parent.parent
STYLIZE = ROOT / "scripts" / "stylize.py"
FAST = "--size 32 --iterations 2 --print-every 0 --backend numpy"


def bomb_png(path, side=100_000):
    """A valid small PNG whose header claims side x side pixels."""
    raw = b"".join(b"\x00" + b"\x00" * 16 for _ in range(16))

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


BAD_IMAGES = {
    "missing": lambda d: d / "nope.png",
    "directory": lambda d: d,
    "not an image": lambda d: (d / "notes.png").write_text("hello") and d / "notes.png",
    "truncated": lambda d: (
        (d / "cut.png").write_bytes((d / "photo.png").read_bytes()[:300]) and d / "cut.png"
    ),
    "decompression bomb": lambda d: bomb_png(d / "bomb.png") or d / "bomb.png",
    "a few pixels": lambda d: Image.new("RGB", (4, 3)).save(d / "tiny.png") or d / "tiny.png",
}
MESSAGES = {
    "missing": "no such file",
    "directory": "directory",
    "not an image": "not an image",
    "truncated": "cannot read",
    "decompression bomb": "too large",
    "a few pixels": "small",
}


@pytest.mark.parametrize("case", BAD_IMAGES)
@pytest.mark.parametrize("role", ["content", "style"])
def test_bad_images_are_one_line_errors(nst, tmp_path, photo, stripes, case, role):
    images = {"content": photo, "style": stripes, role: BAD_IMAGES[case](tmp_path)}
    (tmp_path / "out").mkdir()
    proc = nst(f"{FAST} --content {images['content']} --style {images['style']} --output out/o.png")
    assert_one_line_error(proc, MESSAGES[case])
    assert files_in(tmp_path / "out") == []


def odd_formats(folder, photo):
    rgb = np.asarray(Image.open(photo))
    gray16 = (rgb[..., 0].astype(np.uint16) * 257).astype(np.uint16)
    Image.fromarray(gray16).save(folder / "gray16.png")
    Image.fromarray(rgb[..., 1]).save(folder / "gray.png")
    rgba = np.concatenate([rgb, np.full(rgb.shape[:2] + (1,), 128, np.uint8)], axis=2)
    Image.fromarray(rgba).save(folder / "rgba.png")
    Image.fromarray(rgb).convert("CMYK").save(folder / "cmyk.jpg")
    return ["gray16.png", "gray.png", "rgba.png", "cmyk.jpg"]


def test_16bit_gray_rgba_and_cmyk_images_simply_work(nst, tmp_path, photo):
    for name in odd_formats(tmp_path, photo):
        proc = nst(f"{FAST} --content {name} --style {name} --output out_{Path(name).stem}.png")
        assert proc.returncode == 0, proc.stderr
        assert Image.open(tmp_path / f"out_{Path(name).stem}.png").size == (32, 24)


@pytest.mark.parametrize(
    "options,fragments",
    [
        ("--style-layers relu1_1,conv9_9", ["unknown layer", "conv9_9", "valid: conv1_1"]),
        ("--content-layers fc7", ["unknown layer", "fc7"]),
        ("--size 0", ["--size must be a positive integer"]),
        ("--iterations -3", ["--iterations must be a positive integer"]),
        ("--iterations 5,0 --scales 2", ["--iterations must be a positive integer, got 0"]),
        ("--iterations 5,5 --scales 3", ["--iterations: 2 counts for 3 scales"]),
        ("--iterations many", ["expected a whole number or comma-separated ones"]),
        ("--size big", ["invalid int value"]),
        ("--style-weight -1", ["--style-weight must be >= 0"]),
        ("--style-strength -2", ["--style-strength must be >= 0"]),
        ("--style-weight 5 --style-strength 2", ["--style-weight or --style-strength, not both"]),
        ("--preset loud", ["--preset: invalid choice: 'loud'"]),
        ("--content-weight nan", ["--content-weight must be >= 0"]),
        ("--style-blend-weights 1 2", ["2 --style-blend-weights for 1 style"]),
        ("--style-layer-weights loud", ["--style-layer-weights", "or equal, classic", "'loud'"]),
        ("--style-layer-weights 1,2", ["2 --style-layer-weights for 5 style layer"]),
        ("--output out.txt", ["out.txt: not an image format Pillow knows"]),
        ("--output out.xbm", ["Pillow cannot write an RGB image as XBM"]),
        ("--init nowhere.png", ["no such file"]),
        ("--size 100000", ["needs about", "GiB", "lower --size"]),
        ("--size 20 --iterations 1", ["too small for relu5_1"]),
        ("--backend cupy", ["backend 'cupy' requested but"]),
        ("--optimizer adam", ["--optimizer: invalid choice: 'adam'"]),
    ],
)
def test_bad_options_are_one_line_errors(nst, tmp_path, photo, stripes, options, fragments):
    before = files_in(tmp_path)
    proc = nst(f"--content {photo} --style {stripes} --print-every 0 --backend numpy {options}")
    if options == "--backend cupy" and cupy_unavailable_reason() is None:
        assert proc.returncode == 0, proc.stderr  # where CuPy can run, asking for it just works
        return
    assert_one_line_error(proc, *fragments)
    assert files_in(tmp_path) == before


@pytest.mark.parametrize("suffix,fmt", [(".webp", "WEBP"), (".tiff", "TIFF"), (".jpg", "JPEG")])
def test_any_format_pillow_writes_is_an_output_and_carries_the_mark(
    nst, tmp_path, photo, stripes, suffix, fmt
):
    """The mark (EXIF Software, or a comment) lets the next run replace it without --overwrite;
    the snapshots take the same format."""
    command = f"{FAST} --content {photo} --style {stripes} --save-every 2 --output o{suffix}"
    for _ in range(2):
        proc = nst(command)
        assert proc.returncode == 0, proc.stderr
    for name in (f"o{suffix}", f"o_0002{suffix}"):
        with Image.open(tmp_path / name) as im:
            assert im.format == fmt and im.size == (32, 24)


def test_a_format_without_metadata_is_written_and_then_kept_unless_overwrite(
    nst, tmp_path, photo, stripes
):
    """BMP has no place for the mark: a later run cannot tell the file is its own, so it keeps
    it, as it keeps any file it did not make, until --overwrite (the documented rule)."""
    command = f"{FAST} --content {photo} --style {stripes} --output o.bmp"
    assert nst(command).returncode == 0
    assert Image.open(tmp_path / "o.bmp").format == "BMP"
    assert_one_line_error(nst(command), "o.bmp exists and was not made by minimal-nst")
    assert nst(f"{command} --overwrite").returncode == 0


def test_the_device_optimiser_from_the_command_line(nst, tmp_path, photo, stripes):
    proc = nst(f"{FAST} --content {photo} --style {stripes} --optimizer lbfgs --output o.png")
    assert proc.returncode == 0, proc.stderr
    assert len((tmp_path / "o_history.csv").read_text().splitlines()) == 1 + 2  # header, 2 rows


def test_output_equal_to_an_input_is_refused_and_the_input_kept(nst, photo, stripes):
    digest = hashlib.sha256(photo.read_bytes()).hexdigest()
    proc = nst(f"{FAST} --content {photo} --style {stripes} --output {photo}")
    assert_one_line_error(proc, "is one of its inputs")
    assert hashlib.sha256(photo.read_bytes()).hexdigest() == digest


@pytest.mark.parametrize("folder", ["missing", "a_file"])
def test_unwritable_output_folder_is_refused_before_any_work(nst, tmp_path, photo, stripes, folder):
    (tmp_path / "a_file").write_text("x")
    proc = nst(
        f"{FAST} --content {photo} --style {stripes} --output {folder}/o.png "
        f"--weights never-read.h5"
    )
    assert_one_line_error(proc, "cannot write to")


def test_missing_weights_file_is_a_one_line_error(nst, tmp_path, photo, stripes):
    proc = nst(f"{FAST} --content {photo} --style {stripes} --weights {tmp_path / 'vgg.h5'}")
    assert_one_line_error(proc, "weights file not found")
    assert not (tmp_path / "stylized.png").exists()


def test_nonfinite_loss_stops_and_keeps_the_last_finite_image(nst, tmp_path, photo, stripes):
    proc = nst(f"{FAST} --content {photo} --style {stripes} --style-weight 1e306 --output o.png")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "NaN or infinite" in proc.stderr.strip().splitlines()[-1]
    assert Image.open(tmp_path / "o.png").size == (32, 24)


def test_a_run_writes_image_history_and_loss_curve_atomically(nst, tmp_path, photo, stripes):
    proc = nst(
        f"--content {photo} --style {stripes} --size 32 --iterations 4 --save-every 2 "
        "--print-every 1 --output result.png"
    )
    assert proc.returncode == 0, proc.stderr
    assert "4/4" in proc.stderr and "ETA" in proc.stderr and "style" in proc.stderr
    expected = [
        "result.png",
        "result_0002.png",
        "result_0004.png",
        "result_history.csv",
        "result_loss.png",
    ]
    assert set(expected) <= set(files_in(tmp_path))
    assert not [n for n in files_in(tmp_path) if n.endswith(".part")], "a temp file was left"
    rows = (tmp_path / "result_history.csv").read_text().splitlines()
    assert rows[0].startswith("scale,of,iteration,total,content,style") and len(rows) == 5


def test_ctrl_c_saves_the_best_image_so_far(tmp_path, photo, stripes, weights_path):
    args = f"--content {photo} --style {stripes} --size 48 --iterations 5000 --print-every 1 "
    args += f"--output o.png --weights {weights_path} --backend numpy"
    proc = subprocess.Popen(
        [sys.executable, str(STYLIZE), *args.split()],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen, deadline = "", time.time() + 120
    while "3/5000" not in seen and time.time() < deadline:
        seen += proc.stderr.read(1)
    os.kill(proc.pid, signal.SIGINT)
    _, rest = proc.communicate(timeout=120)
    assert proc.returncode == 130, seen + rest
    assert "Traceback" not in rest and "interrupted" in rest
    assert Image.open(tmp_path / "o.png").size == (48, 36)


OPTIONS = """--content --style --output --size --iterations --style-blend-weights --content-weight
--style-weight --tv-weight --content-layers --style-layers --style-layer-weights --pooling --init
--seed --style-scale --preserve-colors --save-every --print-every --backend --scales --weights
--conv --optimizer --style-strength --preset subtle strong paper""".split()


def test_help_documents_every_option(nst):
    proc = nst("--help")
    assert proc.returncode == 0
    for option in OPTIONS:
        assert option in proc.stdout


def test_a_mistake_is_one_line_and_a_bug_keeps_its_traceback(capsys):
    """Only the errors the boundary raises on purpose are the user's; a ValueError from deep
    inside (a bug) must not be dressed up as one, or it could never be found."""
    from minimal_nst.app.options import UsageError, friendly_errors

    def fails(error):
        def fn():
            raise error

        return fn

    assert friendly_errors("minimal-nst", fails(UsageError("--size must be positive"))) == 2
    assert capsys.readouterr().err == "minimal-nst: error: --size must be positive\n"
    with pytest.raises(ValueError, match="a bug"):
        friendly_errors("minimal-nst", fails(ValueError("a bug")))


def test_the_weights_command_answers_help_and_verifies_a_file(weights_path):
    """`python -m minimal_nst.weights --help` is help, not a weights path to look for."""
    command = [sys.executable, "-m", "minimal_nst.weights"]
    proc = subprocess.run([*command, "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "usage: python -m minimal_nst.weights" in proc.stdout
    proc = subprocess.run([*command, str(weights_path)], capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert proc.returncode == 0 and "verified SHA-256" in proc.stdout, proc.stderr


def test_a_preset_stands_in_for_the_options_not_given():
    paper = options(parse_args(["--preset", "paper"]))[2]
    assert (paper.init, paper.iterations, paper.scales) == ("noise", 500, 1)
    # An option given wins over the preset's value; the preset's others still hold.
    paper = options(parse_args(["--preset", "paper", "--iterations", "7"]))[2]
    assert (paper.init, paper.iterations) == ("noise", 7)
    # A beta given replaces the preset's multiple of the default, rather than clash with it.
    loss = options(parse_args(["--preset", "subtle", "--style-weight", "5"]))[3]
    assert (loss.beta, loss.strength) == (5.0, 1.0)
    assert options(parse_args(["--preset", "subtle"]))[3].strength == 0.1
    assert options(parse_args([]))[2] == options(parse_args(["--init", "recolored"]))[2]
    assert options(parse_args([]))[3].style_layer_weights == "equal"  # the paper's w_l


def test_style_strength_multiplies_the_default_beta_at_every_size():
    from minimal_nst.losses import LossOptions, default_beta

    for size in (64, 256, 1024):  # the balance of Eq. 7 kept: beta grows with the area
        assert LossOptions(strength=3.0).beta_at(size) == 3.0 * default_beta(size)
        assert LossOptions(beta=5.0).beta_at(size) == 5.0  # a beta given is taken as it is
    assert default_beta(512) == 4 * default_beta(256)


def test_the_eta_weighs_each_scale_by_its_pixels():
    """At sqrt(2) times the size an iteration costs twice as much: after the first of two scales,
    the time left is twice the time spent, not equal to it as a count of iterations would say."""
    import io

    from minimal_nst import Settings
    from minimal_nst.app.progress import Progress

    settings = Settings(size=256, iterations=4, scales=2)
    stream = io.StringIO()
    progress = Progress(Path("out.png"), settings, print_every=1, save_every=0, stream=stream)
    for k in range(4):  # the records the transfer makes: the iteration counted across scales
        progress({"scale": 1, "of": 2, "iteration": k + 1, "total": 1.0, "content": 1.0,
                  "style": 1.0}, None)  # fmt: skip
    spent, left = progress.bar.n, progress.bar.total - progress.bar.n
    assert left / spent == pytest.approx(2.0, rel=0.01)  # the sides are whole pixels: 256 and 181
    # With a count per scale: 8 coarse iterations cost as much as 4 fine ones.
    settings = Settings(size=256, iterations=(8, 4), scales=2)
    progress = Progress(Path("out.png"), settings, print_every=1, save_every=0, stream=stream)
    for k in range(8):
        progress({"scale": 1, "of": 2, "iteration": k + 1, "total": 1.0, "content": 1.0,
                  "style": 1.0}, None)  # fmt: skip
    assert progress.bar.total / progress.bar.n == pytest.approx(2.0, rel=0.01)
    assert progress.iterations == 12
