"""bench/gpu_check.py, the one prepared run for the next lent GPU, cannot rot: its dry run does
every step at toy sizes on the CuPy stand-in, as the GPU run will do them for real."""

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "bench" / "gpu_check.py"
STEPS = ["weights", "device", "tests", "check", "bench", "cli lbfgs", "cli scipy", "video",
         "largest"]  # fmt: skip


def test_the_gpu_check_runs_every_step_at_toy_size_on_the_stand_in(tmp_path):
    proc = subprocess.run([sys.executable, str(SCRIPT), "--dry-run", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=900)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = (tmp_path / "summary.md").read_text().splitlines()[2:]
    assert [row.split(" | ")[0].lstrip("| ") for row in rows] == STEPS
    assert all(" | ok | " in row for row in rows), rows
    assert "passed" in rows[2] and "failed" not in rows[2]  # the GPU tests, on the stand-in
    assert (tmp_path / "RESULTS_GPU.md").exists() and (tmp_path / "cli_lbfgs.png").exists()
    assert len(list((tmp_path / "video" / "out").glob("frame_*.png"))) == 3
