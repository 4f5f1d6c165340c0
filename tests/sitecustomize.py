"""With tests/ on PYTHONPATH and MINIMAL_NST_FAKE_CUPY=1, every Python process starts with the
CuPy stand-in installed as `cupy` (bench/gpu_check.py --dry-run: its steps start processes of
their own, down to bench_vgg.py's workers)."""

import os
import sys

if os.environ.get("MINIMAL_NST_FAKE_CUPY") == "1":
    import fake_cupy

    sys.modules["cupy"] = fake_cupy
