"""One way to key a run, for the batch's jobs and the video's frames alike: a digest of what
decides the output. A rerun keeps an output that carries the same key and paints the rest.

What decides it: the options; each input by its bytes (a file's SHA-256, wherever it lies and
whenever it was touched; an array's bytes); and what an option left None stands for in this
version (the defaults: the style strength, the size, scales, convolution and optimiser of each
backend, the iteration counts), so that a new default reruns what it would change.
"""

import hashlib
from pathlib import Path

import numpy as np

from ..losses import BETA_AT_256
from ..transfer import DEFAULTS, ITERATIONS, SCALES

# The PNG text chunks that carry a key: a batch job's image, a video's frame.
JOB_KEY = "minimal-nst job"
FRAME_KEY = "minimal-nst-video-key"


def run_key(*decided):
    """32 hex digits from `decided` (options, inputs already as input_digest gives them) and
    this version's defaults."""
    defaults = (BETA_AT_256, sorted((k, sorted(v.items())) for k, v in DEFAULTS.items()),
                sorted(ITERATIONS.items()), sorted(SCALES.items()))  # fmt: skip
    return hashlib.sha256(repr((decided, defaults)).encode()).hexdigest()[:32]


def input_digest(value, known=None):
    """An input as a key sees it: a file by the SHA-256 of its bytes (known: {path: digest}
    already taken, so that a painting a thousand jobs share is hashed once), an array by its
    bytes', a word (a start in STARTS: "content", "noise"...) or None as itself."""
    if value is None or (isinstance(value, str) and not Path(value).is_file()):
        return str(value)
    if isinstance(value, (str, Path)):
        known = {} if known is None else known
        if str(value) not in known:
            with open(value, "rb") as f:  # a long clip: read in chunks, never whole
                known[str(value)] = hashlib.file_digest(f, "sha256").hexdigest()
        return known[str(value)]
    return hashlib.sha256(np.ascontiguousarray(np.asarray(value)).tobytes()).hexdigest()
