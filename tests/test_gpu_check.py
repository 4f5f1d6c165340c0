"""bench/gpu_check.py, the one prepared run for the next lent GPU, cannot rot: its dry run does
every step at toy sizes on the CuPy stand-in, as the GPU run will do them for real, and on a
machine that lacks what the GPU machine lacks (nbformat, nbclient) it still runs every GPU test."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "bench" / "gpu_check.py"
STEPS = ["weights", "device", "tests", "check", "bench", "cli lbfgs", "cli scipy", "video",
         "largest"]  # fmt: skip
HIDDEN = "nbformat,nbclient"  # not in the GPU machine's image (device/KINDS.md)


def gpu_tests_here():
    """How many GPU-marked tests this suite holds, collected here where every module imports."""
    proc = subprocess.run([sys.executable, "-m", "pytest", "-m", "gpu", "--collect-only", "-q",
                           "-p", "no:cacheprovider", str(ROOT / "tests")],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    return int(re.search(r"(\d+)/\d+ tests collected", proc.stdout).group(1))


def test_the_gpu_check_runs_every_step_at_toy_size_on_the_stand_in(tmp_path):
    env = dict(os.environ, MINIMAL_NST_HIDE=HIDDEN)  # tests/sitecustomize.py hides them
    proc = subprocess.run([sys.executable, str(SCRIPT), "--dry-run", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=900, env=env)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = (tmp_path / "summary.md").read_text().splitlines()[2:]
    assert [row.split(" | ")[0].lstrip("| ") for row in rows] == STEPS
    assert all(" | ok | " in row for row in rows), rows
    tests, device = ((tmp_path / f"{step}.log").read_text() for step in ("tests", "device"))
    # every GPU test ran and passed, the notebook's module skipped whole for its missing import
    assert re.search(rf"\b{gpu_tests_here()} passed", rows[2]) and "failed" not in rows[2], rows[2]
    assert "skipped here, a dependency missing: tests/test_notebook.py" in tests
    assert "absent here, their tests skip: nbformat, nbclient" in device
    assert (tmp_path / "RESULTS_GPU.md").exists() and (tmp_path / "cli_lbfgs.png").exists()
    assert len(list((tmp_path / "video" / "out").glob("frame_*.png"))) == 3
