"""The command line with one fault injected, for what a real machine cannot always stage.

    python tests/faults.py FAULT [minimal-nst arguments ...]

FAULT is one of:
  none        no fault: the command as a user runs it
  slow-save   every image save takes 3 s more and first prints "SAVING" (to send signals into it)
  disk-full   writes under $FAULT_DIR fail with ENOSPC, as on a full disk (where no tmpfs can be
              mounted to fill for real)
"""

import errno
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import minimal_nst.image  # noqa: E402
import minimal_nst.outputs  # noqa: E402
from minimal_nst.cli import main  # noqa: E402


def slow_save():
    real = minimal_nst.outputs.save_image

    def save_image(path, rgb):
        print("SAVING", file=sys.stderr, flush=True)
        time.sleep(3)
        return real(path, rgb)

    minimal_nst.outputs.save_image = save_image


def disk_full():
    folder, real = os.environ["FAULT_DIR"], os.fdopen

    def fdopen(fd, *args, **kwargs):
        f = real(fd, *args, **kwargs)
        if os.path.realpath(f"/proc/self/fd/{fd}").startswith(folder):
            f.close()
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return f

    minimal_nst.image.os.fdopen = fdopen


if __name__ == "__main__":
    fault, argv = sys.argv[1], sys.argv[2:]
    {"none": lambda: None, "slow-save": slow_save, "disk-full": disk_full}[fault]()
    sys.exit(main(argv))
