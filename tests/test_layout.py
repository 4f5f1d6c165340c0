"""The repository as a newcomer meets it: the designed top level, what runs write ignored by git,
every import pointing down, and functions short enough to read on one screen."""

import ast
import importlib.util
import subprocess
from pathlib import Path

import pytest

from minimal_nst.app.options import build_parser
from minimal_nst.app.outputs import side_files
from minimal_nst.batch.args import build_batch_parser
from minimal_nst.video.cli import build_video_parser

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "minimal_nst"
TOP_LEVEL = {".ci", ".gitignore", "LICENSE", "README.md", "bench", "minimal_nst", "pyproject.toml",
             "scripts", "setup.cfg", "tests", "weights"}  # fmt: skip
LONGEST_FUNCTION = 40  # lines, docstring included: one screen


def git(*args):
    proc = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, f"git {' '.join(args)}: {proc.stderr}"
    return proc.stdout.split("\n")


@pytest.fixture(scope="module")
def checkout():
    """The tests run from a git checkout (CI: a fresh clone), where these claims are about."""
    assert (ROOT / ".git").exists(), f"{ROOT} is not a git checkout"


def test_the_top_level_is_the_designed_one(checkout):
    committed = {path.split("/")[0] for path in git("ls-files") if path}
    assert committed <= TOP_LEVEL, f"not in the design: {sorted(committed - TOP_LEVEL)}"


def figure_default(script):
    spec = importlib.util.spec_from_file_location(script, ROOT / "scripts" / f"{script}.py")
    text = spec.loader.get_source(script)
    return ast.literal_eval(text.split("DEFAULT_OUTPUT = ")[1].split()[0])


def test_what_runs_write_by_default_is_ignored(checkout):
    """The demo's image and side files (snapshots too), a batch's folder, the figure scripts'
    images and tiles, the quality study's folder, each where a run from the top level puts it."""
    output = Path(build_parser().get_default("output"))
    written = [str(p) for p in side_files(output, total_iterations=20, save_every=10)]
    batch = build_batch_parser().get_default("output_dir")
    written += [f"{batch}/batch.csv", f"{batch}/photo__painting.png"]
    for script in ("reconstruct", "tradeoff", "spatial_control"):
        name = figure_default(script)
        written += [name, f"{Path(name).stem}_tiles/batch.csv"]
    written += ["quality/QUALITY.md", "quality/sheets/hopper-demo.png"]  # bench/quality.py's --out
    video = Path(build_video_parser().get_default("output"))  # and its frames beside it
    written += [str(video), f"{video.stem}_frames/frame_00001.png"]
    ignored = set(git("check-ignore", "--no-index", *written))
    assert set(written) <= ignored, f"not ignored: {sorted(set(written) - ignored)}"


def package_imports():
    """{module: the package's modules it imports}, at the top or inside a function; a module in
    a subpackage named by its path (video.run)."""
    graph = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        name, here = ".".join(p for p in parts if p != "__init__") or "__init__", parts[:-1]
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level >= 1:
                base = here[: len(here) - node.level + 1]  # the package the dots name
                names = [node.module] if node.module else [a.name for a in node.names]
                found |= {".".join([*base, n]) for n in names}
        graph[name] = found - {name}
    return graph


def test_every_import_points_down():
    """No module imports one that imports it back, directly or through others."""
    graph = package_imports()

    def below(module, seen):
        for other in graph.get(module, ()):
            if other not in seen:
                seen.add(other)
                below(other, seen)
        return seen

    circles = sorted(f"{a} -> {b}" for a in graph for b in graph[a] if a in below(b, set()))
    assert not circles, f"imports that come back: {circles}"


# The house, from the bottom up: the algorithm (the package root), the weights it reads, the
# application around it (the command line and the file boundary), then the two capabilities
# built on both. A module imports only from its own floor or the ones below.
FLOORS = {"": 0, "weights": 1, "app": 2, "batch": 3, "video": 4}
# The two doors that look up on purpose: the package's public API re-exports stylize(), and the
# `minimal-nst` entry hands its subcommands to their own main().
FRONT_DOORS = {("__init__", "app.api"), ("app.cli", "batch.engine"), ("app.cli", "video.cli"),
               ("app.cli", "video.batch")}  # fmt: skip


def floor(module):
    """A subpackage's floor (video.run, or video for its __init__); the root's modules: 0."""
    return FLOORS.get(module.split(".")[0], 0)


def test_the_root_is_the_algorithm_and_each_floor_imports_only_downwards():
    graph = package_imports()
    assert set(graph) >= {"transfer", "app.api", "batch.engine", "video.run", "weights.fetch"}
    up = sorted(f"{a} -> {b}" for a, bs in graph.items() for b in bs
                if floor(b) > floor(a) and (a, b) not in FRONT_DOORS)  # fmt: skip
    assert not up, f"imports that point up a floor: {up}"


def test_a_newcomer_opening_the_package_sees_the_algorithm_and_the_subpackages():
    algorithm = ["backend", "layers", "fast_layers", "vgg", "losses", "masks", "objective",
                 "lbfgs", "image", "transfer"]  # fmt: skip
    files = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__"}
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert files == set(algorithm) and folders == set(FLOORS) - {""}
    readme = (ROOT / "README.md").read_text()
    order = [readme.index(f"`{name}.py`", readme.index("## Read the code")) for name in algorithm]
    assert order == sorted(order), "README's reading order is the root's"


def test_every_function_fits_on_one_screen():
    long = []
    for path in sorted([*PACKAGE.rglob("*.py"), *(ROOT / "scripts").glob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > LONGEST_FUNCTION:
                    long.append(f"{path.name}:{node.name} ({lines} lines)")
    assert not long, long
