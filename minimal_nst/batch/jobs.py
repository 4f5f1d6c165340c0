"""What a batch runs: jobs, their names and keys, and one job run where it lands.

A job is one call of stylize(): its images, Settings, LossOptions and masks (args.py makes
them from a command line or a manifest). Input files are read where the batch starts and travel
to the workers as bytes, so a cluster needs no shared disk. The VGG-19 weights never travel:
each worker process loads them once (`network`) and keeps them for every job it runs.
"""

import contextlib
import dataclasses
import functools
import hashlib
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..app.files import FileBytes, check_file
from ..app.keys import input_digest, run_key
from ..losses import LossOptions
from ..masks import Masks
from ..transfer import STARTS, Settings

NAME_MAX = 120  # characters of a job's name; longer ones end in a hash of the whole


@dataclass(frozen=True)
class Job:
    name: str  # the output's stem in the batch's folder
    content: Any  # a path or an RGB array; None: a texture from the styles
    styles: tuple  # paths or RGB arrays, blended by loss.style_blend_weights
    settings: Settings = Settings()
    loss: LossOptions = LossOptions()
    masks: Masks | None = None


def swap_inputs(job, fn):
    """The job with every input image (content, styles, an init image, masks) replaced by
    fn(input); None and the starts named by a word (STARTS) stay."""
    one = lambda v: None if v is None else fn(v)  # noqa: E731
    init = job.settings.init
    init = init if isinstance(init, str) and init in STARTS else one(init)
    masks = job.masks and Masks(
        tuple(map(fn, job.masks.regions)),
        tuple(map(fn, job.masks.style_regions)),
        one(job.masks.content_weight),
    )
    return dataclasses.replace(
        job,
        content=one(job.content),
        styles=tuple(map(fn, job.styles)),
        settings=dataclasses.replace(job.settings, init=init),
        masks=masks,
    )


def input_paths(job):
    """The job's input files, in order, each once."""
    found = []
    swap_inputs(job, lambda v: found.append(str(v)) if isinstance(v, (str, Path)) else None)
    return list(dict.fromkeys(found))


def read_inputs(job):
    """{path: FileBytes} of the job's input files; an ImageError names one that is missing."""
    return {p: FileBytes(p, check_file(p).read_bytes()) for p in input_paths(job)}


def input_digests(job, known=None):
    """{path: SHA-256 of its bytes} of the job's input files; an ImageError names one that is
    missing. known: digests already taken, shared by the jobs of a batch, so that a painting
    used by a thousand jobs is read and hashed once."""
    known = {} if known is None else known
    for path in input_paths(job):
        if path not in known:
            check_file(path)  # missing, or a folder: its one-line ImageError
            input_digest(path, known)
    return {path: known[path] for path in input_paths(job)}


def job_key(job, digests):
    """The job's key (app/keys.py: its options, its inputs' bytes, this version's defaults), the
    input files by their digests (input_digests(job)), its name left out.

    A rerun skips a job whose image carries this key; a changed photo, option or default runs
    it again.
    """

    def digest(v):
        return digests[str(v)] if isinstance(v, (str, Path)) else input_digest(v)

    return run_key(swap_inputs(dataclasses.replace(job, name=""), digest))


def safe_name(text):
    """`text` as a file name: letters, digits and ._+- kept, the rest as _, length bounded."""
    name = re.sub(r"[^A-Za-z0-9._+-]+", "_", str(text)).strip("._") or "job"
    if len(name) > NAME_MAX:
        name = name[: NAME_MAX - 9] + "-" + hashlib.sha256(name.encode()).hexdigest()[:8]
    return name


def unique_names(names):
    """names with repeats numbered: a, a-2, a-3 (the first keeps its name)."""
    seen, out = {}, []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}-{seen[name]}")
    return out


# -- on the worker ---------------------------------------------------------------------------


def run_job(job, files=None, threads=None, stop=None, paint=None):
    """Run one job here (a Dask worker or this process): a dict for the batch's summary.

    files: {path: FileBytes} of its inputs. threads: BLAS threads for it, an int or
    {host: int} (one entry per machine of a cluster); None: as the worker is set up.
    stop: the StopSignals of a caller that runs jobs in its own process (None: the job's own).
    paint(job, net, stop): the job's stylize.Result, its inputs here (None: paint_image; a
    video's frame brings its own). A bad input ends the job with its one-line reason, never
    the worker.
    """
    from ..app.options import user_errors

    files, start = files or {}, time.time()
    here = swap_inputs(job, lambda v: files.get(str(v), v) if isinstance(v, (str, Path)) else v)
    try:
        with blas_threads(_threads_here(threads)):
            result = (paint or paint_image)(here, network(here.settings), stop)
    except user_errors() as e:
        return {"image": None, "history": [], "error": one_line(e), "seconds": time.time() - start}
    error = result.message if result.stopped else None
    return {"image": result.image, "history": result.history, "error": error,
            "seconds": time.time() - start}  # fmt: skip


def paint_image(job, net, stop):
    """The job's image: stylize() with its options."""
    from ..app.api import stylize

    return stylize(job.content, list(job.styles), job.settings, job.loss, net, stop=stop,
                   masks=job.masks)  # fmt: skip


def network(settings):
    """The VGG-19 a job runs on: loaded once per worker process and kept."""
    from ..transfer import with_defaults

    s = with_defaults(settings)
    weights = s.weights_path and str(s.weights_path)
    return _load_network(weights, s.pooling, s.dtype, s.backend, s.conv)


@functools.lru_cache(maxsize=2)
def _load_network(weights_path, pooling, dtype, backend, conv):
    """The app's load_network, cached by what decides the network (Settings as a whole may
    hold an array, its init, which no cache can key)."""
    from ..app.api import load_network
    from ..backend import get_backend

    s = Settings(weights_path=weights_path, pooling=pooling, dtype=dtype, backend=backend,
                 conv=conv)  # fmt: skip
    return load_network(s, get_backend(backend))


def _threads_here(threads):
    if not isinstance(threads, dict):
        return threads
    from distributed import get_worker
    from distributed.comm import get_address_host

    try:
        return threads.get(get_address_host(get_worker().address))
    except ValueError:  # not on a worker
        return None


@contextlib.contextmanager
def blas_threads(n):
    """BLAS threads, and the Winograd row blocks side by side, limited to n (None: as is)."""
    from .. import fast_layers

    if n is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    before, fast_layers.WORKERS = fast_layers.WORKERS, n
    try:
        with threadpool_limits(n, user_api="blas"):
            yield
    finally:
        fast_layers.WORKERS = before


def one_line(error):
    text = " ".join(str(error).split())
    return text or type(error).__name__
