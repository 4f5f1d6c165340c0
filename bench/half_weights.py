"""The float16 copy of VGG-19's weights that goes to a GPU machine (it receives at most 64 MiB of
files per run, and the full file is 80 MB).

    python bench/half_weights.py [--output weights/vgg19_weights_float16.h5]

Every dataset of Keras' file, in the same layout, rounded to float16 (relative rounding 4.9e-4;
VGG-19's weights all lie well inside float16's range). The file is the same bytes wherever it is
made, so the package verifies it like the full one (weights.VGG19_HALF) and loads it as float32;
on the GPU machine both sides of every comparison use it.
"""

import argparse
import sys
from pathlib import Path

import h5py
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from minimal_nst.app.files import atomic_write  # noqa: E402
from minimal_nst.weights import VGG19_HALF, get_weights_path, verify  # noqa: E402


def write_half(source, f):
    """Every dataset of `source` into the open file object f, as float16, no timestamps."""
    with h5py.File(source, "r") as full, h5py.File(f, "w") as half:
        for key, value in full.attrs.items():
            half.attrs[key] = value
        full.visititems(lambda name, obj: _copy(half, name, obj))


def _copy(half, name, obj):
    if isinstance(obj, h5py.Dataset):
        half.create_dataset(name, data=obj[()].astype(np.float16), track_times=False)


def main(argv=None):
    default = Path(__file__).resolve().parent.parent / "weights" / VGG19_HALF.name
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--output", type=Path, default=default)
    args = p.parse_args(argv)
    atomic_write(args.output, lambda f: write_half(get_weights_path(), f))
    problem = verify(args.output, VGG19_HALF)
    if problem:  # another h5py lays the file out otherwise: say so, keep the file to look at
        print(f"{args.output}: not the expected float16 copy: {problem}", file=sys.stderr)
        return 1
    print(f"{args.output} ({args.output.stat().st_size:,} bytes, verified)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
