"""Nothing lost, ever: every way a run can end, staged for real where the machine allows it.

Each case runs the command line in a subprocess and asserts: the exit code, one line on stderr,
no traceback, every input byte-identical, and the image present wherever the message says.
Disk full is a real full tmpfs where it can be mounted (root), else an injected ENOSPC; signals
are real signals sent to the real process.
"""

import hashlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import files_in, generated_photo

ROOT = Path(__file__).resolve().parent.parent
FAULTS = Path(__file__).resolve().parent / "faults.py"
STYLIZE = ROOT / "scripts" / "stylize.py"  # the program as a user starts it
FAST = "--size 32 --iterations 2 --print-every 0 --backend numpy".split()
LONG = "--size 48 --iterations 5000 --print-every 1 --backend numpy".split()


def command(fault, args, weights_path):
    """The user's command, or with a fault injected (tests/faults.py)."""
    if "--weights" not in args and weights_path is not None:
        args = [*args, "--weights", str(weights_path)]
    program = [str(STYLIZE)] if fault == "none" else [str(FAULTS), fault]
    return [sys.executable, *program, *map(str, args)]


@pytest.fixture
def nst(tmp_path, weights_path):
    """nst(args, fault="none", env=None): run the command line in tmp_path, wait for it."""

    def run(args, fault="none", env=None, timeout=300, weights=True):
        cmd = command(fault, args, weights_path if weights else None)
        env = {**os.environ, **(env or {})}
        return subprocess.run(
            cmd, cwd=tmp_path, capture_output=True, text=True, env=env, timeout=timeout
        )

    return run


def digests(folder):
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir() if p.is_file()
    }


def one_line(proc, code, *fragments):
    """stderr is a single line with every fragment, no traceback, and the exit code is `code`."""
    lines = [line for line in proc.stderr.strip().splitlines() if line != "SAVING"]
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr and "Warning" not in proc.stderr, proc.stderr
    assert len(lines) == 1, proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], proc.stderr
    return lines[0]


def saved_as(line):
    """The path a message says the image was saved as, which must hold that image."""
    path = Path(re.search(r"saved (?:it as |)(\S+?)(?: \(|;|$)", line).group(1))
    assert path.is_file(), line
    Image.open(path).verify()
    return path


def frames(folder, n=5):
    for k in range(1, n + 1):
        Image.fromarray(np.roll(generated_photo(), 7 * k, axis=1)).save(
            folder / f"clip_{k:04d}.png"
        )


# -- 1. side files never overwrite inputs or files someone else made -----------------------------


def test_snapshots_never_overwrite_a_frame_sequence(nst, tmp_path, stripes):
    frames(tmp_path)
    before = digests(tmp_path)
    proc = nst(
        [
            "--content",
            "clip_0003.png",
            "--style",
            stripes,
            "--output",
            "clip.png",
            "--save-every",
            "1",
            *FAST,
            "--iterations",
            "5",
        ]
    )
    one_line(proc, 2, "clip_0003.png", "one of its inputs")
    assert digests(tmp_path) == before


def test_snapshots_never_overwrite_a_file_someone_else_made(nst, tmp_path, stripes, photo):
    frames(tmp_path)
    before = digests(tmp_path)
    proc = nst(
        ["--content", photo, "--style", stripes, "--output", "clip.png", "--save-every", "1", *FAST]
    )
    one_line(proc, 2, "clip_0001.png", "not made by minimal-nst", "--overwrite")
    assert digests(tmp_path) == before


@pytest.mark.parametrize("role,name", [("--init", "out_0001.png"), ("--style", "out_loss.png")])
def test_an_input_named_like_a_side_file_is_refused(nst, tmp_path, photo, role, name):
    Image.fromarray(generated_photo()).save(tmp_path / name)
    before = digests(tmp_path)
    args = ["--content", photo, role, name, "--output", "out.png", "--save-every", "1", *FAST]
    if role == "--init":
        args += ["--style", photo]
    one_line(nst(args), 2, name, "one of its inputs")
    assert digests(tmp_path) == before


def test_a_rerun_replaces_its_own_files_and_overwrite_replaces_others(
    nst, tmp_path, photo, stripes
):
    args = [
        "--content",
        photo,
        "--style",
        stripes,
        "--output",
        "out.png",
        "--save-every",
        "1",
        *FAST,
    ]
    assert nst(args).returncode == 0
    assert nst(args).returncode == 0, "a second run may replace what the first one made"
    Image.fromarray(generated_photo()).save(tmp_path / "out_0002.png")  # now someone else's
    one_line(nst(args), 2, "out_0002.png", "not made by minimal-nst")
    assert nst([*args, "--overwrite"]).returncode == 0


def test_history_that_is_a_directory_is_refused_before_any_work(nst, tmp_path, photo, stripes):
    (tmp_path / "out_history.csv").mkdir()
    proc = nst(["--content", photo, "--style", stripes, "--output", "out.png", *FAST])
    one_line(proc, 2, "out_history.csv", "directory")
    assert not (tmp_path / "out.png").exists()


LONG_NAME = "y" * 300 + ".png"  # past the 255 bytes a file name may have on Linux filesystems


@pytest.mark.parametrize(
    "option,fragment",
    [
        ("--output", f"/{LONG_NAME}: File name too long"),  # said as an absolute path
        ("--content", f"{LONG_NAME}: File name too long"),
        ("--init", f"--init {LONG_NAME}: File name too long"),
        ("--weights", f"weights file {LONG_NAME}: File name too long"),
        ("--content-masks", f"{LONG_NAME}: File name too long"),
    ],
)
def test_a_path_that_cannot_even_be_looked_at_is_one_line(
    nst, tmp_path, photo, stripes, option, fragment
):
    """The operating system refuses the name itself (ENAMETOOLONG): still the user's input."""
    args = {"--content": photo, "--style": stripes, "--output": "out.png", option: LONG_NAME}
    args = [str(a) for pair in args.items() for a in pair]
    one_line(nst([*args, *FAST], weights=option != "--weights"), 2, fragment)
    assert files_in(tmp_path) == ["photo.png", "stripes.png"]


@pytest.mark.parametrize("option", ["--output-dir", "--content"])
def test_a_batch_path_that_cannot_be_looked_at_is_one_line(nst, tmp_path, photo, option):
    args = {"--content": photo, "--output-dir": "out", option: tmp_path / LONG_NAME}
    args = ["batch", *(str(a) for pair in args.items() for a in pair)]
    line = one_line(nst([*args, "--size", "32", "--iterations", "1"]), 2, "File name too long")
    assert line.startswith(f"minimal-nst batch: error: {option}")


def test_a_name_too_long_for_its_side_files_is_refused_before_any_work(
    nst, tmp_path, photo, stripes
):
    name = "x" * 240 + ".png"
    proc = nst(["--content", photo, "--style", stripes, "--output", name, *FAST])
    one_line(proc, 2, "too long")


# -- 2. a weights file the user named is never deleted -------------------------------------------


def test_a_wrong_file_named_by_the_environment_is_left_alone(nst, tmp_path, photo, stripes):
    mine = tmp_path / "thesis.h5"
    mine.write_bytes(b"my thesis data" * 100)
    before = digests(tmp_path)
    args = ["--content", photo, "--style", stripes, *FAST]
    proc = nst(args, env={"MINIMAL_NST_WEIGHTS": str(mine)}, weights=False)
    one_line(proc, 2, "MINIMAL_NST_WEIGHTS", "left as is")
    assert digests(tmp_path) == before


# -- 3. write errors at the end never throw the result away --------------------------------------


@pytest.fixture
def full_disk(tmp_path):
    """(folder on a full disk, the fault to inject if it could not be staged for real)."""
    folder = tmp_path / "full"
    folder.mkdir()
    mounted = (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(folder)], capture_output=True
        ).returncode
        == 0
    )
    if mounted:
        try:
            with open(folder / "filler", "wb") as f:
                while True:
                    f.write(b"\0" * 4096)
                    f.flush()
        except OSError:  # no space left: the disk is full, as it should be
            pass
    try:
        yield folder, ("none" if mounted else "disk-full")
    finally:
        if mounted:
            subprocess.run(["umount", str(folder)])


def test_disk_full_at_the_end_saves_the_image_elsewhere_and_says_where(
    nst, tmp_path, full_disk, photo, stripes
):
    folder, fault = full_disk
    before = digests(tmp_path)
    args = ["--content", photo, "--style", stripes, "--output", folder / "out.png", *FAST]
    line = one_line(
        nst(args, fault, env={"FAULT_DIR": str(folder)}), 1, "could not write", "saved it as"
    )
    rescued = saved_as(line)
    assert not str(rescued).startswith(str(folder))
    assert digests(tmp_path) == before
    rescued.unlink()


def test_an_output_that_cannot_be_replaced_is_saved_beside_it(nst, tmp_path, photo, stripes):
    args = ["--content", photo, "--style", stripes, "--output", "out.png", *FAST]
    assert nst(args).returncode == 0
    immutable = subprocess.run(["chattr", "+i", str(tmp_path / "out.png")], capture_output=True)
    fault = "none" if immutable.returncode == 0 else "cannot-replace"  # else: EPERM injected
    try:
        line = one_line(
            nst(args, fault, env={"FAULT_FILE": str(tmp_path / "out.png")}),
            1,
            "could not write",
            "saved it as",
        )
        assert saved_as(line).parent == tmp_path
    finally:
        subprocess.run(["chattr", "-i", str(tmp_path / "out.png")], capture_output=True)


def start(tmp_path, weights_path, args, fault="none"):
    cmd = command(fault, args, weights_path)
    return subprocess.Popen(cmd, cwd=tmp_path, stderr=subprocess.PIPE, text=True)


def wait_for(proc, text, seconds=120):
    seen, deadline = "", time.time() + seconds
    while text not in seen and time.time() < deadline:
        seen += proc.stderr.read(1)
    assert text in seen, seen
    return seen


def test_output_folder_removed_during_the_run(tmp_path, weights_path, photo, stripes):
    out = tmp_path / "out"
    out.mkdir()
    proc = start(
        tmp_path,
        weights_path,
        ["--content", photo, "--style", stripes, "--output", out / "o.png", *LONG],
    )
    wait_for(proc, "2/5000")
    out.rmdir()
    proc.send_signal(signal.SIGTERM)
    _, rest = proc.communicate(timeout=120)
    assert proc.returncode == 143, rest
    line = [x for x in rest.strip().splitlines() if "saved" in x][-1]
    assert "could not write" in line and "Traceback" not in rest
    saved_as(line).unlink()


# -- 4. signals: the best image so far, and a message that tells the truth ------------------------


@pytest.mark.parametrize(
    "sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)]
)
def test_a_stop_signal_keeps_the_best_image_so_far(
    tmp_path, weights_path, photo, stripes, sig, code
):
    proc = start(
        tmp_path, weights_path, ["--content", photo, "--style", stripes, "--output", "o.png", *LONG]
    )
    wait_for(proc, "3/5000")
    proc.send_signal(sig)
    _, rest = proc.communicate(timeout=120)
    assert proc.returncode == code, rest
    assert "Traceback" not in rest and "interrupted; kept the best image so far" in rest
    assert Image.open(tmp_path / "o.png").size == (48, 36)


@pytest.mark.parametrize("delay", [0.3, 1.0, 2.5])
def test_ctrl_c_during_start_up_is_one_true_line(tmp_path, weights_path, photo, stripes, delay):
    """At 0.3 s Python is importing NumPy, at 1 s loading, by 2.5 s the run may be painting."""
    quiet = [a if a != "1" else "0" for a in LONG]  # --print-every 0
    proc = start(
        tmp_path,
        weights_path,
        ["--content", photo, "--style", stripes, "--output", "o.png", *quiet],
    )
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    lines = err.strip().splitlines()
    assert proc.returncode == 130 and len(lines) == 1 and "Traceback" not in err, err
    assert ("nothing saved" in lines[0]) == (not (tmp_path / "o.png").exists()), err


def test_ctrl_c_twice_during_the_final_save_still_saves_and_says_so(
    tmp_path, weights_path, photo, stripes
):
    args = ["--content", photo, "--style", stripes, "--output", "o.png", *FAST]
    proc = start(tmp_path, weights_path, args, fault="slow-save")
    wait_for(proc, "SAVING")
    proc.send_signal(signal.SIGINT)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    _, rest = proc.communicate(timeout=120)
    assert proc.returncode == 130, rest
    assert "saved" in rest and "nothing saved" not in rest and "Traceback" not in rest
    assert Image.open(tmp_path / "o.png").size == (32, 24)


# -- 5. edges of the options --------------------------------------------------------------------


@pytest.mark.parametrize(
    "options,fragments",
    [
        ("--save-every -1", ["--save-every", "whole number"]),
        ("--print-every -2", ["--print-every", "whole number"]),
        ("--seed -1", ["--seed", "whole number"]),
        ("--style-scale inf", ["--style-scale must be > 0"]),
        ("--style-layer-weights a", ["--style-layer-weights", "numbers"]),
        ("--style-layers ,", ["nothing to optimise"]),
        ("--content-weight 0 --style-weight 0", ["nothing to optimise"]),
        ("--style-layer-weights 0,0,0,0,0 --content-weight 0", ["nothing to optimise"]),
    ],
)
def test_edges_are_one_line_errors_naming_the_option(
    nst, tmp_path, photo, stripes, options, fragments
):
    before = digests(tmp_path)
    proc = nst(["--content", photo, "--style", stripes, *FAST, *options.split()])
    one_line(proc, 2, *fragments)
    assert digests(tmp_path) == before


def test_texture_with_no_style_layers_has_nothing_to_optimise(nst, tmp_path, stripes):
    one_line(nst(["--style", stripes, "--style-layers", ",", *FAST]), 2, "nothing to optimise")


def test_style_given_twice_keeps_both(nst, tmp_path, photo, stripes):
    args = [
        "--content",
        photo,
        "--style",
        stripes,
        "--style",
        photo,
        "--style-blend-weights",
        "1",
        "2",
    ]
    assert nst([*args, *FAST, "--output", "o.png"]).returncode == 0


def test_help_shows_no_empty_defaults(nst):
    proc = nst(["--help"])
    assert proc.returncode == 0 and "(default: None)" not in proc.stdout
    assert "(default: stylized.png)" in proc.stdout


# -- 6. images: a camera's large JPEG is fine; 16-bit stays 16-bit ---------------------------------


def test_a_102_megapixel_camera_jpeg_is_an_ordinary_input(nst, tmp_path, stripes):
    Image.new("RGB", (12000, 8500), (150, 110, 60)).save(tmp_path / "camera.jpg", quality=80)
    proc = nst(["--content", "camera.jpg", "--style", stripes, "--output", "o.png", *FAST])
    assert proc.returncode == 0, proc.stderr
    assert Image.open(tmp_path / "o.png").size[0] == 32


def test_an_image_beyond_memory_is_refused_with_the_limit(nst, tmp_path, photo):
    from test_cli import bomb_png

    bomb_png(tmp_path / "bomb.png", side=400_000)
    one_line(
        nst(["--content", photo, "--style", "bomb.png", *FAST]),
        2,
        "too large",
        "megapixels",
        "memory",
    )


def test_a_dark_16_bit_image_stays_dark(nst, tmp_path, stripes):
    from minimal_nst.app.files import load_image

    dark = np.full((40, 50), 200, np.uint16)  # 200 of 65535: nearly black
    Image.fromarray(dark).save(tmp_path / "dark16.png")
    assert load_image(tmp_path / "dark16.png").max() <= 1
    proc = nst(["--content", "dark16.png", "--style", stripes, "--output", "o.png", *FAST])
    # Read right, the photo is black (1 of 255) and the stripes average 70: the result lies in
    # between. Read as 8-bit, 200 of 65535 would be clipped to 255: a white photo.
    assert proc.returncode == 0 and np.asarray(Image.open(tmp_path / "o.png")).mean() < 128


# -- 7. `check` follows the same conventions ---------------------------------------------------


@pytest.mark.parametrize(
    "args,fragment", [(["--weights", "nope.h5"], "not found"), (["--bogus"], "unrecognized")]
)
def test_check_reports_bad_input_as_one_line(nst, tmp_path, args, fragment):
    line = one_line(nst(["check", "--backend", "numpy", *args], weights=False), 2, fragment)
    assert line.startswith("minimal-nst check: error:")


# -- 8. one line means one line --------------------------------------------------------------------


def test_a_non_finite_loss_prints_no_numpy_warning(nst, tmp_path, photo, stripes):
    proc = nst(
        [
            "--content",
            photo,
            "--style",
            stripes,
            "--style-weight",
            "1e306",
            "--output",
            "o.png",
            *FAST,
        ]
    )
    one_line(proc, 2, "NaN or infinite")
    assert Image.open(tmp_path / "o.png").size == (32, 24)


def test_pillows_exif_warnings_do_not_leak(nst, tmp_path, stripes):
    corrupt_exif = (  # an orientation tag, then a tag whose data lies past the end
        b"Exif\x00\x00II*\x00\x08\x00\x00\x00\x02\x00\x12\x01\x03\x00\x01\x00\x00\x00\x06\x00"
        b"\x00\x00\x0f\x01\x02\x00\x50\x00\x00\x00\xf0\x00\x00\x00"
    )
    Image.fromarray(generated_photo()).save(tmp_path / "exif.jpg", exif=corrupt_exif)
    proc = nst(["--content", "exif.jpg", "--style", stripes, "--output", "o.png", *FAST])
    one_line(proc, 0, "saved")
