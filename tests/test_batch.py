"""`minimal-nst batch`: many jobs on Dask, real processes on 127.0.0.1 only.

A batch is the single run many times: each output equals what stylize() gives for its job,
pixel for pixel. It survives a worker's death, resumes where it stopped, and a bad input fails
only its own job.
"""

import csv
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import STYLIZE, generated_photo, generated_stripes
from minimal_nst import LossOptions, Settings, stylize
from minimal_nst.app.options import UsageError
from minimal_nst.batch.args import build_batch_parser, jobs_from_args
from minimal_nst.batch.engine import is_complete, require_dask
from minimal_nst.batch.jobs import Job, blas_threads, input_digests, job_key

TINY = "--size 32 --iterations 5 --backend numpy"


@pytest.fixture
def images(tmp_path):
    """Two photos and two paintings in tmp_path/in."""
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(generated_photo()).save(folder / "disc.png")
    Image.fromarray(generated_photo()[::-1, ::-1].copy()).save(folder / "flipped.png")
    Image.fromarray(generated_stripes()).save(folder / "stripes.png")
    Image.fromarray(generated_stripes()[:, ::-1].copy()).save(folder / "mirror.png")
    return folder


@pytest.fixture
def batch(tmp_path, weights_path):
    """batch("--content ...") runs `minimal-nst batch` in tmp_path as a user would."""

    def run(*parts, timeout=300, wait=True):
        args = ["batch", *" ".join(map(str, parts)).split(), "--weights", str(weights_path)]
        cmd = [sys.executable, str(STYLIZE), *args]
        if not wait:
            return subprocess.Popen(cmd, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
        return subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=timeout)

    return run


def summary(out_dir):
    with open(out_dir / "batch.csv", newline="") as f:
        return {row["job"]: row for row in csv.DictReader(f)}


def pixels(path):
    with Image.open(path) as im:
        im.verify()  # a complete, valid PNG
    return np.asarray(Image.open(path).convert("RGB"))


def test_a_batch_on_a_local_cluster_equals_the_single_runs(tmp_path, images, batch, weights_path):
    proc = batch(f"--content {images}/disc.png --style {images}/stripes.png {images}/mirror.png",
                 TINY, "--seed 0 3 --init noise --workers 2 --output-dir out")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "2 workers x 1 BLAS thread" in proc.stderr
    rows = summary(tmp_path / "out")
    names = {f"disc__{s}__seed-{k}" for s in ("stripes", "mirror") for k in (0, 3)}
    assert set(rows) == names and {r["status"] for r in rows.values()} == {"done"}
    for name, row in rows.items():
        _, style, seed = name.split("__")
        with blas_threads(1):  # as on its worker: a thread count changes float32 sums' order
            single = stylize(images / "disc.png", images / f"{style}.png", size=32, iterations=5,
                             init="noise", seed=int(seed[5:]), backend="numpy",
                             weights_path=weights_path)  # fmt: skip
        np.testing.assert_array_equal(pixels(Path(row["output"])), single.image)
        # the same float32 total, written as text in batch.csv (its shortest repr: 6e-8)
        assert float(row["total"]) == pytest.approx(single.history[-1]["total"], rel=1e-6)
        assert (tmp_path / "out" / f"{name}_history.csv").exists()


def test_bad_inputs_fail_only_their_own_jobs(tmp_path, images, batch):
    (images / "notes.png").write_text("not an image")
    manifest = tmp_path / "jobs.csv"
    manifest.write_text(
        "content,style,output\n"
        "in/disc.png,in/stripes.png,good\n"
        "in/missing.png,in/stripes.png,missing\n"
        "in/notes.png,in/stripes.png,broken\n"
        "in/flipped.png,in/mirror.png in/stripes.png,blend\n"
    )
    proc = batch(f"--manifest {manifest} --output-dir out --workers 2", TINY)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    rows = summary(tmp_path / "out")
    assert {k: r["status"] for k, r in rows.items()} == {
        "good": "done", "missing": "failed", "broken": "failed", "blend": "done"
    }  # fmt: skip
    assert rows["missing"]["error"].endswith("missing.png: no such file")
    assert rows["broken"]["error"].endswith("notes.png: not an image Pillow can read")
    assert "2 done, 2 failed" in proc.stderr
    for name in ("good", "blend"):
        assert pixels(tmp_path / "out" / f"{name}.png").shape == (24, 32, 3)
    assert not (tmp_path / "out" / "missing.png").exists()


def wait_for(predicate, seconds, what):
    end = time.time() + seconds
    while time.time() < end:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def done_jobs(out_dir):
    try:
        return [k for k, r in summary(out_dir).items() if r["status"] == "done"]
    except (OSError, KeyError):
        return []


def test_an_interrupted_batch_resumes_with_only_the_missing_jobs(tmp_path, images, batch):
    command = f"--content {images} --style {images}/stripes.png --seed 0 1 2 --init noise"
    command += " --size 32 --iterations 30 --backend numpy --workers 1 --output-dir out"
    first = batch(command, wait=False)
    wait_for(lambda: done_jobs(tmp_path / "out"), 240, "a first job")
    first.send_signal(signal.SIGINT)
    assert first.wait(120) == 130, first.stderr.read()
    before = summary(tmp_path / "out")
    done = {k for k, r in before.items() if r["status"] == "done"}
    assert 1 <= len(done) < len(before) == 12  # 4 images (the folder) x 1 style x 3 seeds
    assert {r["status"] for r in before.values()} <= {"done", "cancelled"}
    stamps = {k: os.stat(before[k]["output"]).st_mtime_ns for k in done}

    again = batch(command)
    assert again.returncode == 0, again.stderr
    after = summary(tmp_path / "out")
    assert {k for k, r in after.items() if r["status"] == "skipped"} == done
    assert sum(r["status"] == "done" for r in after.values()) == 12 - len(done)
    assert {k: os.stat(after[k]["output"]).st_mtime_ns for k in done} == stamps


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_real_cluster_survives_losing_a_worker(tmp_path, images, batch):
    port, procs = free_port(), []
    dask = [sys.executable, "-m", "dask"]
    quiet = dict(cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        procs.append(subprocess.Popen([*dask, "scheduler", "--host", "127.0.0.1", "--port",
                                       str(port), "--no-dashboard"], **quiet))  # fmt: skip
        address = f"tcp://127.0.0.1:{port}"
        for _ in range(2):
            procs.append(subprocess.Popen([*dask, "worker", address, "--nthreads", "1",
                                           "--no-nanny", "--host", "127.0.0.1",
                                           "--no-dashboard"], **quiet))  # fmt: skip
        command = f"--scheduler {address} --content {images}/disc.png {images}/flipped.png"
        command += f" --style {images}/stripes.png {images}/mirror.png --seed 0 1 --init noise"
        command += " --size 32 --iterations 30 --backend numpy --output-dir out"
        run = batch(command, wait=False)
        procs.append(run)
        wait_for(lambda: done_jobs(tmp_path / "out"), 240, "a first job")
        procs[1].kill()  # a worker dies in the middle: its jobs are lost with it
        assert run.wait(240) == 0, run.stderr.read()
        assert procs[1].poll() is not None
        rows = summary(tmp_path / "out")
        assert len(rows) == 8 and {r["status"] for r in rows.values()} == {"done"}
        for row in rows.values():
            assert pixels(Path(row["output"])).shape == (24, 32, 3)
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(30)


# -- the jobs a command line means, without a cluster ------------------------------------------


def jobs_of(command):
    return jobs_from_args(build_batch_parser().parse_args(command.split()))


def test_the_jobs_are_the_product_of_every_value_named_from_what_varies(images):
    jobs = jobs_of(f"--content {images}/d*.png {images}/f*.png --style {images}/stripes.png"
                   " --style-weight 10 1e3 --size 64 --style-blend-weights 2")  # fmt: skip
    assert [j.name for j in jobs] == [
        "disc__stripes__style-weight-10", "disc__stripes__style-weight-1e3",
        "flipped__stripes__style-weight-10", "flipped__stripes__style-weight-1e3",
    ]  # fmt: skip
    assert [j.loss.beta for j in jobs] == [10.0, 1000.0, 10.0, 1000.0]
    assert {j.settings.size for j in jobs} == {64} and jobs[0].loss.style_blend_weights == (2.0,)
    assert jobs[0].content == f"{images}/disc.png" and jobs[0].styles == (f"{images}/stripes.png",)
    folder = jobs_of(f"--content {images} --style {images}/mirror.png")
    assert [j.name for j in folder] == [
        f"{n}__mirror" for n in ("disc", "flipped", "mirror", "stripes")
    ]


def test_presets_are_options_of_a_batch_too(images):
    jobs = jobs_of(f"--content {images}/disc.png --style {images}/stripes.png"
                   " --preset subtle strong --iterations 3")  # fmt: skip
    assert [j.name for j in jobs] == [f"disc__stripes__preset-{p}" for p in ("subtle", "strong")]
    assert [(j.loss.strength, j.settings.scales) for j in jobs] == [(0.1, None), (1.0, 3)]
    assert {j.settings.iterations for j in jobs} == {3}  # an option given wins over the preset


def test_a_manifest_gives_one_job_per_row_paths_relative_to_it(tmp_path, images):
    manifest = tmp_path / "jobs.csv"
    manifest.write_text("content,style,--style-weight,iterations\n"
                        "in/disc.png,in/stripes.png in/mirror.png,100,\n"
                        "in/flipped.png,in/mirror.png,,7\n")  # fmt: skip
    jobs = jobs_of(f"--manifest {manifest} --size 48")
    assert [j.name for j in jobs] == [
        "disc__stripes+mirror__style-weight-100__iterations-default",
        "flipped__mirror__style-weight-default__iterations-7",
    ]
    assert jobs[0].styles == (str(tmp_path / "in/stripes.png"), str(tmp_path / "in/mirror.png"))
    assert (jobs[0].loss.beta, jobs[1].loss.beta) == (100.0, None)
    assert (jobs[0].settings.iterations, jobs[1].settings.iterations) == (None, 7)
    assert {j.settings.size for j in jobs} == {48}


@pytest.mark.parametrize(
    "command,message",
    [
        ("--content nowhere/*.png", "--content nowhere/*.png: no file matches"),
        ("--size 32 big", "argument --size: invalid int value: 'big'"),
        ("--pooling avg min", "argument --pooling: invalid choice: 'min'"),
        ("--manifest nowhere.csv", "--manifest nowhere.csv: cannot read it"),
    ],
)
def test_a_mistake_on_the_command_line_stops_the_batch_before_any_work(tmp_path, command, message):
    with pytest.raises(UsageError, match=message.replace("*", r"\*").replace(".", r"\.")):
        jobs_of(command)


def test_the_job_key_follows_the_options_defaults_and_input_bytes(tmp_path, images, monkeypatch):
    job = Job("a", str(images / "disc.png"), (str(images / "stripes.png"),))
    key = job_key(job, input_digests(job))
    assert job_key(Job("renamed", job.content, job.styles), input_digests(job)) == key
    other = Job("a", job.content, job.styles, Settings(seed=1))
    assert job_key(other, input_digests(other)) != key
    louder = Job("a", job.content, job.styles, loss=LossOptions(beta=5.0))
    assert job_key(louder, input_digests(louder)) != key
    with monkeypatch.context() as m:  # the same options, but beta None means another beta now
        m.setattr("minimal_nst.app.keys.BETA_AT_256", 2e4)
        assert job_key(job, input_digests(job)) != key
    with monkeypatch.context() as m:  # ... or iterations None means another count now
        m.setattr("minimal_nst.app.keys.ITERATIONS", {"numpy": (200, 100), "cupy": (500, 500)})
        assert job_key(job, input_digests(job)) != key
    Image.fromarray(generated_stripes()[::-1].copy()).save(images / "stripes.png")
    assert job_key(job, input_digests(job)) != key  # the same name, another painting

    image = tmp_path / "a.png"
    from minimal_nst.app.files import save_image
    from minimal_nst.app.keys import JOB_KEY

    save_image(image, generated_photo(), {JOB_KEY: key})
    assert is_complete(image, key) and not is_complete(image, "another")
    assert not is_complete(tmp_path / "absent.png", key)


def test_a_worker_count_below_one_is_one_line_before_any_work(images, capsys):
    from minimal_nst.batch.engine import main

    assert main(["--content", str(images / "disc.png"), "--workers", "0"]) == 2
    assert capsys.readouterr().err.strip() == (
        "minimal-nst batch: error: --workers must be a positive integer, got 0"
    )


def test_without_dask_the_batch_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed now fails
    with pytest.raises(UsageError, match=r"pip install 'minimal_nst\[batch\]'"):
        require_dask()


def test_the_local_cluster_has_a_worker_per_core_unless_memory_is_short(monkeypatch):
    import minimal_nst.app.memory
    from minimal_nst.batch.engine import local_workers

    jobs = [
        Job(f"j{k}", "a.png", ("b.png",), Settings(size=512, backend="numpy")) for k in range(9)
    ]
    cores = os.cpu_count()
    plenty = 2**50  # a PiB free: memory never limits, whatever this machine has
    monkeypatch.setattr(minimal_nst.app.memory, "available_memory", lambda xp: (plenty, plenty))
    assert local_workers(jobs) == min(cores, len(jobs)) and local_workers(jobs[:1]) == 1
    monkeypatch.setattr(minimal_nst.app.memory, "available_memory", lambda xp: (2**30, 2**30))
    assert local_workers(jobs) == 1  # 1 GiB free: one 512 px job at a time
