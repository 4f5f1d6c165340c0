"""The paper's figures as scripts, and the `minimal-nst check` command a user runs after install."""

import csv
import importlib.util
import itertools
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import minimal_nst.layers
from minimal_nst.app import check, cli
from minimal_nst.app.options import friendly_errors

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"
sys.path.insert(0, str(SCRIPTS))
from figure_grid import tile_origin  # noqa: E402

from conftest import files_in  # noqa: E402


def load_script(name):
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tiles_of(grid, rows, cols, tile_shape):
    h, w = tile_shape
    out = []
    for r in range(rows):
        for c in range(cols):
            x, y = tile_origin(r, c, tile_shape)
            out.append(np.asarray(grid)[y : y + h, x : x + w].astype(int))
    return out


FIGURES = {"reconstruct": (2, 5), "tradeoff": (5, 4)}  # rows x columns of tiles
TILE = (32, 27)  # the demo photo is 600x512: a 32 px longest side gives 27x32 tiles


def run_figure(script, folder, weights_path, *more):
    """The figure script at 32 px, 10 iterations: (its grid, its tiles' folder)."""
    output = folder / f"{script}.png"
    argv = f"--size 32 --iterations 10 --output {output} --weights {weights_path} --backend numpy"
    assert load_script(script).main([*argv.split(), *more]) == 0
    return Image.open(output), folder / f"{script}_tiles"


@pytest.fixture(scope="module")
def figures(tmp_path_factory, weights_path):
    """Each figure made once on Dask, with one worker: as many BLAS threads as this process
    has, so that the same tiles computed here, without Dask, are the same floats."""
    folder = tmp_path_factory.mktemp("figures")
    return {s: run_figure(s, folder, weights_path, "--workers", "1") for s in FIGURES}


@pytest.mark.parametrize("script", FIGURES)
def test_figure_script_writes_a_labelled_grid_of_real_optimisations(figures, script):
    grid, tiles_dir = figures[script]
    rows, cols = FIGURES[script]
    assert grid.size == tile_origin(rows, cols, TILE)
    with open(tiles_dir / "batch.csv", newline="") as f:
        jobs = list(csv.DictReader(f))
    assert len(jobs) == rows * cols and {job["status"] for job in jobs} == {"done"}
    tiles = tiles_of(grid, rows, cols, TILE)
    for tile, job in zip(tiles, jobs):  # each tile in its place, the job of that row and column
        np.testing.assert_array_equal(tile, np.asarray(Image.open(job["output"])))
        with open(Path(job["output"]).with_name(f"{job['job']}_history.csv"), newline="") as f:
            totals = [float(r["total"]) for r in csv.DictReader(f)]
        # L-BFGS accepts a step only where the loss falls (its line search's sufficient decrease),
        # so ten real iterations leave the loss below the first iterate's.
        assert len(totals) == 10 and totals[-1] < totals[0], job["job"]
    # Different objectives from one white-noise start part at the first step (their gradients
    # differ), so no two tiles are the same image; a grid that showed one tile twice would.
    for a, b in itertools.combinations(range(len(tiles)), 2):
        assert not np.array_equal(tiles[a], tiles[b]), (jobs[a]["job"], jobs[b]["job"])


def test_without_dask_the_tiles_run_here_with_the_same_output(
    figures, tmp_path, weights_path, monkeypatch, capsys
):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed now fails
    grid, tiles_dir = run_figure("reconstruct", tmp_path, weights_path)
    assert "10 of 10 jobs to run here, one after another" in capsys.readouterr().err
    np.testing.assert_array_equal(np.asarray(grid), np.asarray(figures["reconstruct"][0]))
    assert files_in(tiles_dir) == files_in(figures["reconstruct"][1])


def test_without_dask_a_cluster_option_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "distributed", None)
    module = load_script("reconstruct")
    argv = ["--scheduler", "tcp://127.0.0.1:8786", "--output", str(tmp_path / "r.png")]
    assert friendly_errors("reconstruct.py", lambda: module.main(argv)) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("reconstruct.py: error: --scheduler and --workers run the tiles on Dask")
    assert "pip install 'minimal_nst[batch]'" in err


def test_figure_scripts_share_the_one_line_errors(tmp_path, capsys):
    module = load_script("reconstruct")
    assert friendly_errors("reconstruct.py", lambda: module.main(["--size", "0"])) == 2
    assert capsys.readouterr().err.strip().startswith("reconstruct.py: error: --size")


def test_a_figure_script_refuses_a_worker_count_below_one_as_the_batch_does(tmp_path, capsys):
    module = load_script("tradeoff")
    argv = ["--workers", "0", "--size", "16", "--output", str(tmp_path / "grid.png")]
    assert friendly_errors("tradeoff.py", lambda: module.main(argv)) == 2
    assert capsys.readouterr().err.strip() == (
        "tradeoff.py: error: --workers must be a positive integer, got 0"
    )
    assert not (tmp_path / "grid_tiles").exists()  # refused before any tile ran


def test_check_command_passes_on_this_backend(weights_path, capsys):
    assert cli.main(["check", "--backend", "numpy", "--weights", str(weights_path)]) == 0
    out = capsys.readouterr().out
    assert out.count("PASS") == 11 and "FAIL" not in out and "max rel error" in out


def test_check_command_catches_a_broken_gradient(weights_path, monkeypatch, capsys):
    def relu_backward_without_its_gate(dy, cache):
        return dy  # forgets the "where F_ij > 0, else 0" of Eqs. 2 and 6

    monkeypatch.setattr(minimal_nst.layers, "relu_backward", relu_backward_without_its_gate)
    assert check.main(["--backend", "numpy", "--weights", str(weights_path)]) == 1
    out = capsys.readouterr().out
    assert "FAIL  relu_backward" in out and "1 check(s) FAILED" in out
