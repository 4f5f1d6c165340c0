"""`minimal-nst batch`: many style transfers at once on Dask (dask.distributed).

The same command on a laptop (a LocalCluster, the default) and on a cluster someone runs
(--scheduler tcp://host:8786). This process plans the jobs, reads their input files, hands
them to the workers and writes each output as it arrives, so the workers need no shared disk
and never write a file. A rerun skips every job whose image is complete: it carries the job's
key (jobs.job_key), so a changed photo or option runs the job again.
"""

import contextlib
import csv
import functools
import io
import itertools
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ..app.keys import JOB_KEY
from ..app.options import PROG, UsageError, friendly_errors
from ..app.signals import StopSignals, exit_code
from .jobs import input_digests, input_paths, job_key, one_line, run_job

SUMMARY = "batch.csv"
COLUMNS = ["job", "status", "seconds", "total", "content", "style", "output", "error"]
INSTALL = "pip install 'minimal_nst[batch]'"
ON_INTERRUPT = (  # what a batch stopped by Ctrl-C says
    "interrupted; the finished jobs are kept (rerun the same command to finish the rest)"
)
RETRIES = 3  # a job whose input files were lost with a worker is sent again, this many times


@dataclass(frozen=True)
class Engine:
    """Where the jobs run: a running scheduler's address, or a local cluster of `workers`
    processes (None: sized to the machine, local_workers); or, in_process, here, one job after
    another, with no Dask at all (the figure scripts where the batch extra is not installed)."""

    scheduler: str | None = None
    workers: int | None = None
    in_process: bool = False

    def __post_init__(self):  # the one check, for `batch` and the figure scripts alike
        if self.workers is not None and self.workers < 1:
            raise UsageError(f"--workers must be a positive integer, got {self.workers}")


def main(argv):
    with StopSignals() as stop:
        return friendly_errors(f"{PROG} batch", lambda: _main(argv, stop), ON_INTERRUPT)


def _main(argv, stop):
    from .args import build_batch_parser, jobs_from_args

    args = build_batch_parser().parse_args(argv)
    require_dask()
    engine = Engine(args.scheduler, args.workers)
    jobs = jobs_from_args(args)
    rows = run_batch(jobs, Path(args.output_dir), engine, args.overwrite, stop)
    return report(f"{PROG} batch", rows, Path(args.output_dir), stop)


def report(prog, rows, out_dir, stop):
    """Say how many jobs ended how, and where the summary is; the exit code."""
    counts = Counter(row["status"] for row in rows)
    print(f"{prog}: " + ", ".join(f"{n} {s}" for s, n in counts.items())
          + f"; summary in {out_dir / SUMMARY}", file=sys.stderr)  # fmt: skip
    if stop.signum is not None:
        return exit_code(stop.signum)
    return 1 if counts["failed"] else 0


def dask_installed():
    try:
        import distributed  # noqa: F401
    except ImportError:
        return False
    return True


def require_dask():
    if not dask_installed():
        raise UsageError(f"batches run on Dask, which is not installed: {INSTALL}")


def run_batch(jobs, out_dir, engine=Engine(), overwrite=False, stop=None, progress=True):
    """Run `jobs` (jobs.Job) on `engine`, writing NAME.png and NAME_history.csv for each into
    out_dir, and batch.csv. Returns the summary's rows, in the jobs' order."""
    out_dir = prepare(out_dir, overwrite)
    rows, todo = plan(jobs, out_dir, overwrite)
    write_summary(out_dir, rows)
    if todo and engine.in_process:
        say(f"{len(todo)} of {len(jobs)} jobs to run here, one after another")
        run_here(jobs, todo, rows, out_dir, stop, progress)
    elif todo:
        with connect(engine, [jobs[k] for k in todo]) as (client, where):
            say(f"{len(todo)} of {len(jobs)} jobs to run on {where}")
            collect(client, jobs, todo, rows, out_dir, stop, progress)
    return rows


def prepare(out_dir, overwrite):
    """The output folder, made if need be; its batch.csv must be ours to replace."""
    from ..app.outputs import made_by_us
    from ..app.probes import probing

    with probing(UsageError, f"--output-dir {out_dir}"):
        out_dir = out_dir.expanduser().absolute()
        if out_dir.exists() and not out_dir.is_dir():
            raise UsageError(f"--output-dir {out_dir} is a file, not a folder")
        out_dir.mkdir(parents=True, exist_ok=True)
        summary = out_dir / SUMMARY
        if summary.exists() and not overwrite and not made_by_us(summary):
            raise UsageError(f"{summary} exists and was not made by minimal-nst; pass --overwrite")
    return out_dir


def plan(jobs, out_dir, overwrite):
    """(a summary row per job, {index of a job to run: its key}).

    A job whose inputs cannot be read, or whose output must not be written, fails here with
    its reason; one whose image is complete is skipped."""
    from ..app.files import ImageError
    from ..app.outputs import OutputError, check_outputs, side_files

    rows, todo, known = [], {}, {}  # known: the input files' digests, each file hashed once
    for k, job in enumerate(jobs):
        output = out_dir / f"{job.name}.png"
        rows.append({"job": job.name, "status": "pending", "output": str(output)})
        try:
            digests = input_digests(job, known)
            check_outputs(side_files(output, 0, 0), input_paths(job), overwrite)
        except (ImageError, OutputError, OSError) as e:
            rows[k].update(status="failed", error=one_line(e))
            continue
        key = job_key(job, digests)
        if is_complete(output, key):
            rows[k]["status"] = "skipped"
        else:
            todo[k] = key
    return rows, todo


def is_complete(output, key):
    """True if `output` is an image a run of this very job wrote (it is written last)."""
    try:
        with Image.open(output) as im:
            return im.info.get(JOB_KEY) == key
    except (OSError, ValueError):
        return False


def collect(client, jobs, todo, rows, out_dir, stop, progress):
    """Submit the jobs a few at a time, write each result as it arrives; on a stop signal,
    cancel the rest. A window keeps the input bytes in flight bounded on a huge batch."""
    from tqdm import tqdm

    bar = tqdm(total=len(jobs), initial=len(jobs) - len(todo), unit="job", file=sys.stderr,
               disable=not progress, dynamic_ncols=True)  # fmt: skip
    run = Running(client, todo, rows, bar, jobs)
    with bar:
        drive(run, todo, max(4, 2 * worker_threads(client)), out_dir, stop)
    write_summary(out_dir, rows)


def drive(run, todo, window, out_dir, stop):
    """The engine's loop, for images and clips alike: up to `window` jobs on the cluster
    (run.submit(k)), each result taken as it arrives (run.arrived), the lost sent again
    (run.again); on a stop signal, what runs is cancelled. Rows left pending: cancelled."""
    waiting = iter(todo)
    while stop is None or stop.signum is None:
        retry, run.again = run.again, []
        for k in [*retry, *itertools.islice(waiting, max(0, window - len(run.futures)))]:
            run.submit(k)
        if not run.futures and not run.again:
            break
        for future in [f for f in run.futures if f.done()]:
            run.arrived(future, out_dir)
        time.sleep(0.05)
    run.client.cancel(list(run.futures))
    for row in run.rows:
        row["status"] = "cancelled" if row["status"] == "pending" else row["status"]


def run_here(jobs, todo, rows, out_dir, stop, progress):
    """The jobs in this process, one after another, each written as it ends: the same files as
    on a cluster. A stop signal cancels the job in hand and the rest; with no `stop` given, it
    then ends the batch as Ctrl-C would (KeyboardInterrupt), after the summary is written."""
    from tqdm import tqdm

    bar = tqdm(total=len(jobs), initial=len(jobs) - len(todo), unit="job", file=sys.stderr,
               disable=not progress, dynamic_ncols=True)  # fmt: skip
    with bar, contextlib.nullcontext(stop) if stop else StopSignals() as signals:
        for k, key in todo.items():
            finish(functools.partial(run_job, jobs[k], stop=signals), rows[k], key)
            if signals.signum is not None and rows[k]["status"] != "done":
                rows[k].update(status="cancelled", error="")  # stopped part-way: not written
            if signals.signum is not None:
                break
            if rows[k]["status"] == "failed":
                bar.write(f"{PROG} batch: {jobs[k].name}: {rows[k]['error']}")
            bar.update()
    for row in rows:
        row["status"] = "cancelled" if row["status"] == "pending" else row["status"]
    write_summary(out_dir, rows)
    if signals.signum is not None and stop is None:
        raise KeyboardInterrupt


class InFlight:
    """What a batch has on the cluster: {future: job index}, the jobs to send again and how
    often each was tried. The image batch (Running) and the video batch (video/batch.py's
    Painting) differ only in what a job is and what its result does."""

    def __init__(self, client, todo, rows, bar, jobs):
        self.client, self.todo, self.rows, self.bar, self.jobs = client, todo, rows, bar, jobs
        self.threads, self.ship = threads_per_host(client), Shipper(client, todo, jobs)
        self.futures, self.again, self.tries, self.summary_written = {}, [], Counter(), 0.0

    def send(self, k, **kw):
        """Job k to a worker, its inputs scattered first: one that vanished since the plan fails
        the job, a worker lost while scattering sends it again (RETRIES times at most)."""
        try:
            files = self.ship(self.jobs[k])
        except OSError as e:
            vanished = isinstance(e, (FileNotFoundError, IsADirectoryError, PermissionError))
            if vanished or self.tries[k] >= RETRIES:
                return self.fail(k, one_line(e))
            return self.retry(k)
        future = self.client.submit(run_job, self.jobs[k], files, self.threads, pure=False, **kw)
        self.futures[future] = k

    def retry(self, k):
        self.tries[k] += 1
        self.ship.lost(self.jobs[k])
        self.again.append(k)

    def taken(self, future):
        """The job an arrived future ran, or None where it is sent again (an input died with
        its worker)."""
        k = self.futures.pop(future)
        if future.cancelled() and self.tries[k] < RETRIES:
            return self.retry(k)
        return k

    def keep_summary(self, out_dir, columns=None):
        """The summary rewritten at most once a second (a 10,000-row file: not after every job)."""
        if time.time() - self.summary_written > 1.0:
            write_summary(out_dir, self.rows, columns or COLUMNS)
            self.summary_written = time.time()


class Running(InFlight):
    """The image batch's jobs on the cluster."""

    def submit(self, k):
        self.send(k)

    def fail(self, k, error):
        self.rows[k].update(status="failed", error=error)
        self.bar.write(f"{PROG} batch: {self.jobs[k].name}: {error}")
        self.bar.update()

    def arrived(self, future, out_dir):
        k = self.taken(future)
        if k is None:
            return
        self.ship.done(self.jobs[k])
        finish(future.result, self.rows[k], self.todo[k])
        if self.rows[k]["status"] == "failed":
            self.bar.write(f"{PROG} batch: {self.jobs[k].name}: {self.rows[k]['error']}")
        self.bar.update()
        self.keep_summary(out_dir)


class Shipper:
    """Input files to the workers: each scattered once while a job still needs it, so a
    painting shared by a thousand jobs travels once, and a photo is dropped after its job."""

    def __init__(self, client, todo, jobs):
        self.client, self.futures = client, {}
        self.uses = Counter(p for k in todo for p in input_paths(jobs[k]))

    def __call__(self, job):
        from ..app.files import FileBytes

        for path in input_paths(job):
            if path not in self.futures:  # read here: planning kept only the digests
                data = FileBytes(path, Path(path).read_bytes())
                self.futures[path] = self.client.scatter(data, hash=False)
        return {path: self.futures[path] for path in input_paths(job)}

    def lost(self, job):
        """The job's files died with a worker (scattered data has one copy): ship them anew."""
        for path in input_paths(job):
            self.futures.pop(path, None)

    def done(self, job):
        for path in input_paths(job):
            self.uses[path] -= 1
            if self.uses[path] == 0:
                self.futures.pop(path, None)


def worker_threads(client):
    """How many jobs the cluster runs at once: its workers' threads, all told."""
    return sum(info["nthreads"] for info in client.scheduler_info()["workers"].values())


def finish(result_of, row, key):
    """Write a finished job's image and history; fill in its summary row.

    result_of(): the job's result (a Dask future's .result, or the job run here)."""
    try:
        result = result_of()
    except Exception as e:  # the job raised on its worker, or its workers died
        row.update(status="failed", error=one_line(f"{type(e).__name__}: {e}"))
        return
    terms = result["history"][-1] if result["history"] else {}
    row.update({name: terms.get(name, "") for name in ("total", "content", "style")})
    row["seconds"] = round(result["seconds"], 1)
    if result["error"] is not None:
        row.update(status="failed", error=result["error"])
        return
    write_outputs(Path(row["output"]), result, key)
    row["status"] = "done"


def write_outputs(output, result, key):
    """NAME_history.csv and NAME_loss.png, then the image: last, its key says it is complete."""
    from ..app.files import save_image
    from ..app.outputs import write_history

    write_history(output, result["history"])
    save_image(output, result["image"], {JOB_KEY: key})


def write_summary(out_dir, rows, columns=COLUMNS):
    from ..app.files import atomic_write

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, restval="")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(out_dir / SUMMARY, lambda f: f.write(buf.getvalue().encode()))


def plural(n, word):
    return f"{n} {word}{'' if n == 1 else 's'}"


def say(text):
    print(f"{PROG} batch: {text}", file=sys.stderr, flush=True)


# -- the engine --------------------------------------------------------------------------------


@contextlib.contextmanager
def connect(engine, jobs):
    """(a Dask client, a few words saying where it runs)."""
    from distributed import Client

    if engine.scheduler:
        try:
            client = Client(engine.scheduler, timeout="10s")
        except (OSError, TimeoutError) as e:
            raise UsageError(f"--scheduler {engine.scheduler}: cannot connect ({e})") from None
        with client:
            n = len(client.scheduler_info()["workers"])
            yield client, f"the scheduler at {engine.scheduler} ({n} workers now)"
        return
    cluster, where = local_cluster(engine.workers, jobs)
    with cluster, Client(cluster) as client:
        try:
            yield client, where
        finally:
            quiet_shutdown()


def quiet_shutdown():
    """Closing a cluster, Dask may log a closed stream or two: expected, not the user's news."""
    import logging

    logging.getLogger("distributed").setLevel(logging.CRITICAL)


def local_cluster(workers, jobs):
    """A LocalCluster on 127.0.0.1: one worker per GPU on CuPy, else `workers` processes (None:
    local_workers), with the cores shared out as BLAS threads: workers x threads = cores."""
    import logging

    from distributed import LocalCluster

    from ..backend import get_backend

    backends = {get_backend(j.settings.backend).__name__ for j in jobs}
    common = dict(threads_per_worker=1, host="127.0.0.1", dashboard_address=None,
                  silence_logs=logging.ERROR)  # fmt: skip
    if backends == {"cupy"}:
        return gpu_cluster(workers, common)
    workers = workers or local_workers(jobs)
    threads = max(1, (os.cpu_count() or 1) // workers)
    env = {f"{lib}_NUM_THREADS": str(threads) for lib in ("OMP", "OPENBLAS", "MKL")}
    cluster = LocalCluster(n_workers=workers, processes=True, env=env, **common)
    return (
        cluster,
        f"a local cluster of {plural(workers, 'worker')} x {plural(threads, 'BLAS thread')}",
    )


def local_workers(jobs):
    """As many workers as cores (one BLAS thread each: the faster split on 2 cores, measured
    in bench/RESULTS.md), fewer if the memory free now cannot hold that many jobs at once."""
    from ..app.memory import available_memory, estimate_memory
    from ..transfer import with_defaults
    from ..vgg import LAYER_NAMES

    size = max(with_defaults(j.settings).size for j in jobs)
    device, host = estimate_memory((size, size), [(size, size)], len(LAYER_NAMES) - 1)
    fit = int(available_memory(np)[1] // (device + host))
    return max(1, min(os.cpu_count() or 1, fit, len(jobs)))


def gpu_cluster(workers, common):
    """One worker per GPU: dask-cuda's LocalCUDACluster pins each to its own device."""
    import cupy
    from distributed import LocalCluster

    gpus = cupy.cuda.runtime.getDeviceCount()
    try:
        from dask_cuda import LocalCUDACluster
    except ImportError:
        if gpus > 1:
            say(f"{gpus} GPUs, but dask-cuda is not installed: one worker on GPU 0")
        return LocalCluster(n_workers=1, processes=True, **common), "a local cluster on GPU 0"
    n = min(workers or gpus, gpus)
    cluster = LocalCUDACluster(n_workers=n, **common)
    return cluster, f"a local CUDA cluster of {n} workers, one per GPU"


def threads_per_host(client):
    """{host: BLAS threads for a job there}: the host's cores shared by its workers' threads."""
    cores = client.run(os.cpu_count)
    workers = client.scheduler_info()["workers"]
    load = Counter()
    for info in workers.values():
        load[info["host"]] += info["nthreads"]
    return {info["host"]: max(1, (cores.get(addr) or 1) // load[info["host"]])
            for addr, info in workers.items()}  # fmt: skip
