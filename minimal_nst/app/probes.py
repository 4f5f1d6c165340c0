"""Filesystem probes made before any work, with their OSErrors as the caller's one-line error.

Looking at a path can itself fail: a name longer than the filesystem allows, a folder that may
not be read, a working directory deleted under the run. Each of those is the user's input going
wrong, so it ends as one line and exit code 2, like every other bad input.
"""

import contextlib


@contextlib.contextmanager
def probing(error, what):
    """Raise `error` ("WHAT: reason", one line) for an OSError inside the block."""
    try:
        yield
    except OSError as e:
        raise error(f"{what}: {e.strerror or e}") from None
