"""With tests/ on PYTHONPATH, every Python process starts as the variables below ask (bench/
gpu_check.py --dry-run: its steps start processes of their own, down to bench_vgg.py's workers).

MINIMAL_NST_FAKE_CUPY=1: the CuPy stand-in installed as `cupy`.
MINIMAL_NST_HIDE=nbformat,nbclient: those modules made unimportable, as on a machine without
them (the GPU machine's image), to rehearse a run there.
"""

import os
import sys

if os.environ.get("MINIMAL_NST_FAKE_CUPY") == "1":
    import fake_cupy

    sys.modules["cupy"] = fake_cupy

for name in filter(None, os.environ.get("MINIMAL_NST_HIDE", "").split(",")):
    sys.modules[name] = None  # `import name` now raises ImportError
