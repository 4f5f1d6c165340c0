"""The paper's figures as scripts, and the `minimal-nst check` command a user runs after install."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import minimal_nst.layers
from minimal_nst import check, cli

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"
sys.path.insert(0, str(SCRIPTS))
from figure_grid import tile_origin  # noqa: E402


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


@pytest.mark.parametrize("script,rows,cols", [("reconstruct", 2, 5), ("tradeoff", 5, 4)])
def test_figure_script_writes_a_labelled_grid_of_real_optimisations(
    tmp_path, weights_path, script, rows, cols
):
    output = tmp_path / f"{script}.png"
    argv = f"--size 32 --iterations 10 --output {output} --weights {weights_path} --backend numpy"
    argv = argv.split()
    assert load_script(script).main(argv) == 0
    grid = Image.open(output)
    tile = (32, 27)  # the demo photo is 512x600: a 32 px longest side gives 27x32 tiles
    assert grid.size == tile_origin(rows, cols, tile)
    tiles = tiles_of(grid, rows, cols, tile)
    for a, b in zip(tiles, tiles[1:]):
        assert np.abs(a - b).mean() > 1, "neighbouring tiles should be different optimisations"


def test_figure_scripts_share_the_one_line_errors(tmp_path, capsys):
    module = load_script("reconstruct")
    assert cli.friendly_errors("reconstruct.py", lambda: module.main(["--size", "0"])) == 2
    assert capsys.readouterr().err.strip().startswith("reconstruct.py: error: --size")


def test_a_figure_script_refuses_a_worker_count_below_one_as_the_batch_does(tmp_path, capsys):
    module = load_script("tradeoff")
    argv = ["--workers", "0", "--size", "16", "--output", str(tmp_path / "grid.png")]
    assert cli.friendly_errors("tradeoff.py", lambda: module.main(argv)) == 2
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
