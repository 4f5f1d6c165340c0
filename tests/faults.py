"""The command line with one fault injected, for what a real machine cannot always stage.

    python tests/faults.py FAULT [minimal-nst arguments ...]

FAULT is one of:
  none        no fault: the command as a user runs it
  slow-save   every image save takes 3 s more and first prints "SAVING" (to send signals into it)
  disk-full   writes under $FAULT_DIR fail with ENOSPC, as on a full disk (where no tmpfs can be
              mounted to fill for real)
  cannot-replace  renaming onto $FAULT_FILE fails with EPERM, as for an immutable file (where
              chattr +i is not available)
  locked-dir  creating anything in $FAULT_DIR fails with EPERM, as in an immutable folder (where
              chattr +i is not available)
"""

import errno
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import minimal_nst.app.files  # noqa: E402
import minimal_nst.app.outputs  # noqa: E402
from minimal_nst.app.cli import main  # noqa: E402


def slow_save():
    real = minimal_nst.app.outputs.save_image

    def save_image(path, rgb):
        print("SAVING", file=sys.stderr, flush=True)
        time.sleep(3)
        return real(path, rgb)

    minimal_nst.app.outputs.save_image = save_image


def disk_full():
    folder, real = os.environ["FAULT_DIR"], os.fdopen

    def fdopen(fd, *args, **kwargs):
        f = real(fd, *args, **kwargs)
        if os.path.realpath(f"/proc/self/fd/{fd}").startswith(folder):
            f.close()
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return f

    minimal_nst.app.files.os.fdopen = fdopen


def cannot_replace():
    target, real = os.path.realpath(os.environ["FAULT_FILE"]), os.replace

    def replace(src, dst, *args, **kwargs):
        if os.path.realpath(dst) == target:
            raise OSError(errno.EPERM, os.strerror(errno.EPERM), str(dst))
        return real(src, dst, *args, **kwargs)

    minimal_nst.app.files.os.replace = replace


def locked_dir():
    folder, real_open, real_mkdir = os.path.realpath(os.environ["FAULT_DIR"]), os.open, os.mkdir

    def inside(path):
        return os.path.realpath(os.path.dirname(os.fspath(path))) == folder

    def open_(path, flags, *args, **kwargs):
        if flags & os.O_CREAT and inside(path):
            raise OSError(errno.EPERM, os.strerror(errno.EPERM), path)
        return real_open(path, flags, *args, **kwargs)

    def mkdir(path, *args, **kwargs):
        if inside(path):
            raise OSError(errno.EPERM, os.strerror(errno.EPERM), path)
        return real_mkdir(path, *args, **kwargs)

    os.open, os.mkdir = open_, mkdir


if __name__ == "__main__":
    fault, argv = sys.argv[1], sys.argv[2:]
    faults = {
        "slow-save": slow_save,
        "disk-full": disk_full,
        "cannot-replace": cannot_replace,
        "locked-dir": locked_dir,
    }
    if fault != "none":
        faults[fault]()
    sys.exit(main(argv))
