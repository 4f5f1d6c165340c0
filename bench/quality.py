"""Quality study: how much of the painting arrives, setting by setting, as one `minimal-nst batch`.

    python bench/quality.py [--size 256] [--settings sweep] [--out quality] [--report FILE]
    python bench/quality.py --size 512 --pairs diagonal --settings "today,beta x10"
    python bench/quality.py --settings palette --gallery FILE --before-after FILE
    python bench/quality.py --dry-run          # every step at toy size (CI runs it)

Two groups of settings: "sweep", the strength study's (from TODAY, the first defaults), and
"palette", the palette study's (from STRENGTH_CHOICE, the strength study's choice).

Three photos (matplotlib's Grace Hopper and Minduka, scikit-image's rocket: public domain or the
libraries' own sample data) x three paintings (the demo's, Turner's *The Shipwreck* and
Matisse's *Woman with a Hat* from ../shared/images), each under every setting of --settings (the
long runs on DIAGONAL's three pairs only), all jobs in one manifest run by `minimal-nst batch`
(a rerun skips the finished ones, so an interrupted study resumes). Every job is given its beta
as a multiple of TODAY_BETA_AT_256, so the study means the same whatever the defaults are now.
Then, for each output, on one yardstick that does not depend on the setting's own weights
(yardstick):
- content distance: |F - P|^2 / |P|^2 at relu4_2, the output against the photo;
- style distance: the mean over relu1_1..relu5_1 of |G - A|^2 / |A|^2, G = F F^T / M the Gram
  matrix per position, the output against the painting at the output's size; at full and at
  half resolution (both images downsampled 2x first: the painting's large-scale structure);
- palette distance: the Wasserstein-2 distance between Gaussian fits of the output's and the
  painting's RGB pixels, 0-255.
Outputs: the batch's folder (images, batch.csv), a contact sheet per pair (sheets/), and a
Markdown report (--report, default OUT/QUALITY.md) with the machine named.
"""

import argparse
import csv
import json
import os
import platform
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from minimal_nst.app.files import atomic_write, load_image  # noqa: E402
from minimal_nst.image import fit_shape, preprocess, resize
from minimal_nst.losses import CONTENT_LAYERS, STYLE_LAYERS  # noqa: E402

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "images"
TIMINGS = "timings.json"  # each job's seconds, kept across reruns (a skipped job has none)

# Each setting changes today's defaults in one knob (or two that go together), so that each
# knob's effect is seen alone; "beta": a multiple of TODAY_BETA_AT_256. In the order they run
# (a study cut short has the first ones whole). Why these knobs: beta, the ratio alpha/beta of
# Eq. 7 (the paper's Fig. 3); the init and the iterations (the paper starts from white noise);
# coarse to fine and the style's scale (Gatys et al. 2017, "Controlling Perceptual Factors":
# scale control and its coarse-to-fine procedure; jcjohnson/neural-style's -style_scale).
TODAY_BETA_AT_256 = 1e3  # the default beta when the study began (at 256 px; x (size/256)^2)
# The defaults when the study began, each given to every job unless its setting changes it, so
# that "today" and every setting mean the same after the defaults change.
TODAY = {"iterations": 100, "scales": 1, "init": "content", "style-scale": 1, "optimizer": "scipy"}
SWEEP = {
    "today": {},
    "beta x10": {"beta": 10},
    "2 scales": {"scales": 2},
    "3 scales": {"scales": 3},
    "noise init": {"init": "noise"},
    "beta x3": {"beta": 3},
    "beta x30": {"beta": 30},
    "200 iterations": {"iterations": 200, "pairs": "diagonal"},
    "style scale 2": {"style-scale": 2},
    "style scale 0.5": {"style-scale": 0.5},
    "500 iterations": {"iterations": 500, "pairs": "diagonal"},
    "beta x10 + 2 scales": {"beta": 10, "scales": 2, "pairs": "diagonal"},
    "beta x10 + 3 scales": {"beta": 10, "scales": 3, "pairs": "diagonal"},
    "beta x30 + 3 scales": {"beta": 30, "scales": 3, "pairs": "diagonal"},
    "beta x10 + noise + 500 iterations": {
        "beta": 10,
        "init": "noise",
        "iterations": 500,
        "pairs": "diagonal",
    },
    # Coarse to fine within the CPU's time: fewer iterations at the finer, dearer scales
    # (crowsonkb's style-transfer-pytorch: 1000 at the first scale, 500 at each later one).
    "beta x10 + 2 scales 100 30": {
        "beta": 10,
        "scales": 2,
        "iterations": "100,30",
        "pairs": "diagonal",
    },
    "beta x10 + 3 scales 100 30 30": {
        "beta": 10,
        "scales": 3,
        "iterations": "100,30,30",
        "pairs": "diagonal",
    },
    "beta x10 + 3 scales 100 50 50": {
        "beta": 10,
        "scales": 3,
        "iterations": "100,50,50",
        "pairs": "diagonal",
    },
    "beta x30 + 3 scales 100 30 30": {
        "beta": 30,
        "scales": 3,
        "iterations": "100,30,30",
        "pairs": "diagonal",
    },
}
# The long runs only on the diagonal, each photo and each painting once (for time: a 500-iteration
# job is five of the others, 2 or 3 scales two); their ratios to today's are over the same pairs.
DIAGONAL = {("hopper", "demo"), ("minduka", "turner"), ("rocket", "matisse")}
BEFORE_AFTER_PAIR = ("hopper", "turner")  # a face, and a painting's orange sky
# The palette study (issue 35): what brings the painting's colours and large shapes, from the
# default the strength study chose (beta x10). The layer weights w_l of Eq. 5 (relu1_1..relu5_1):
LAYER_WEIGHTS = {
    # jcjohnson/neural-style (the classic): Gram / (C H W), a mean over the C^2 entries, content
    # an MSE; in Eq. 7's units at its default weights (content 5, style 100) beta w_l =
    # 40 N_c M_c / N_l^2: 5120 : 1280 : 320 : 80 : 80 at 256 px, i.e. w_l below at beta x10.
    "classic": "0.512,0.128,0.032,0.008,0.008",
}
# The palette study's "before": the strength study's choice, given to each of its jobs (as TODAY
# is to the sweep's); its beta x10 is in PALETTE's settings.
STRENGTH_CHOICE = {"iterations": 100, "scales": 1, "init": "content", "style-scale": 1,
           "optimizer": "scipy", "pooling": "avg"}  # fmt: skip
D = "diagonal"  # a setting run on DIAGONAL's three pairs only, for time
PALETTE = {
    "default": {"beta": 10},
    "classic weights": {"beta": 10, "weights": "classic"},
    # the photo recoloured to the painting's colour mean and covariance (Gatys et al. 2016,
    # "Preserving Color in Neural Artistic Style Transfer", its colour transfer run in reverse)
    "recolored": {"beta": 10, "init": "recolored"},
    # coarse to fine (Gatys et al. 2017) at today's cost: a scale 1/sqrt(2) down has half the
    # pixels, so 100 iterations there and 50 at full size cost what 100 at full size do
    "recolored + 2 scales 100 50": {
        "beta": 10,
        "init": "recolored",
        "scales": 2,
        "iterations": "100,50",
    },  # fmt: skip
    "recolored + 3 scales 100 50 50": {
        "beta": 10,
        "init": "recolored",
        "scales": 3,
        "iterations": "100,50,50",
        "pairs": D,
    },  # fmt: skip
    "classic weights x3": {"beta": 30, "weights": "classic", "pairs": D},
    "max pooling": {"beta": 10, "pooling": "max", "pairs": D},  # the classic's pooling
    "noise": {"beta": 10, "init": "noise", "pairs": D},  # the classic's start, and the paper's
    "recolored + classic weights": {
        "beta": 10,
        "init": "recolored",
        "weights": "classic",
        "pairs": D,
    },  # fmt: skip
    # the device L-BFGS on NumPy (13% sooner than scipy's at 512 px): the same looks, for less?
    "recolored + lbfgs": {"beta": 10, "init": "recolored", "optimizer": "lbfgs", "pairs": D},
}
SETTINGS = {"sweep": SWEEP, "today": {"today": {}}, "palette": PALETTE}
BASELINES = {"sweep": TODAY, "today": TODAY, "palette": STRENGTH_CHOICE}


def photos(folder):
    """{name: path}: two of matplotlib's sample photos and scikit-image's rocket, written once
    into `folder` (the batch reads files)."""
    import matplotlib.cbook
    import skimage.data
    from PIL import Image

    rocket = folder / "rocket.png"
    if not rocket.exists():
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write(rocket, lambda f: Image.fromarray(skimage.data.rocket()).save(f, "PNG"))
    sample = lambda name: matplotlib.cbook.get_sample_data(name, asfileobj=False)  # noqa: E731
    return {
        "hopper": Path(sample("grace_hopper.jpg")),
        "minduka": Path(sample("Minduka_Present_Blue_Pack.png")),
        "rocket": rocket,
    }


def paintings():
    """{name: path}: the demo's painting and the two public-domain ones in ../shared."""
    from minimal_nst.app.api import DEFAULT_STYLE

    return {
        "demo": Path(DEFAULT_STYLE),
        "turner": SHARED / "turner_the_shipwreck_1805.jpg",
        "matisse": SHARED / "matisse_woman_with_a_hat_1905.jpg",
    }


def job_name(photo, painting, setting):
    return f"{photo}-{painting}-{setting.replace(' ', '_').replace('.', '')}"


def manifest_rows(pairs, settings, size, iterations=None, baseline=TODAY):
    """One manifest row per setting and pair, the batch's own option names as columns; setting
    by setting, so that a study cut short has whole settings."""
    rows = []
    for setting, knobs in settings.items():
        for (photo, photo_path), (painting, painting_path) in pairs:
            if knobs.get("pairs") == "diagonal" and (photo, painting) not in DIAGONAL:
                continue
            beta = knobs.get("beta", 1) * TODAY_BETA_AT_256 * (size / 256) ** 2
            row = {"name": job_name(photo, painting, setting), "content": str(photo_path),
                   "style": str(painting_path), "size": size,
                   "style-weight": f"{beta:g}", **baseline}  # fmt: skip
            row.update((k, v) for k, v in knobs.items() if k not in ("beta", "pairs", "weights"))
            if "weights" in knobs:
                row["style-layer-weights"] = LAYER_WEIGHTS[knobs["weights"]]
            if iterations is not None:  # the dry run's toy count replaces every setting's
                row["iterations"] = iterations
            rows.append(row)
    return rows


def write_manifest(path, rows):
    columns = list(dict.fromkeys(k for row in rows for k in row))
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def run_batch(manifest, out, workers):
    """The study as one `minimal-nst batch`; the seconds of each job it finished kept (a rerun
    skips those, and its batch.csv no longer has them), even when it was cut short."""
    from minimal_nst.app.cli import main as cli

    argv = ["batch", "--manifest", str(manifest), "--output-dir", str(out)]
    code = cli(argv + (["--workers", str(workers)] if workers else []))
    timings = known_timings(out)
    with open(out / "batch.csv", newline="") as f:
        for row in csv.DictReader(f):
            if row["status"] == "done":
                timings[row["job"]] = float(row["seconds"])
    atomic_write(out / TIMINGS, lambda f: f.write(json.dumps(timings, indent=1).encode()))
    if code != 0:
        raise SystemExit(f"quality: the batch exited with {code}; see {out / 'batch.csv'}")
    return timings


def known_timings(out):
    """{job: seconds} of the jobs an earlier run of the study finished."""
    return json.loads((out / TIMINGS).read_text()) if (out / TIMINGS).exists() else {}


def responses(net, rgb):
    """({style layer: G = F F^T / M}, relu4_2's F) of an RGB image, in float64."""
    from minimal_nst.objective import as_matrix

    feats, _ = net.forward(preprocess(rgb), STYLE_LAYERS + CONTENT_LAYERS)
    F = {name: as_matrix(v).astype(np.float64) for name, v in feats.items()}
    return {n: F[n] @ F[n].T / F[n].shape[1] for n in STYLE_LAYERS}, F[CONTENT_LAYERS[0]]


def style_distance(G, A):
    """The mean over layers of |G_l - A_l|^2 / |A_l|^2: 0 is the painting's statistics."""
    return float(np.mean([np.sum((G[n] - A[n]) ** 2) / np.sum(A[n] ** 2) for n in A]))


def halved(rgb):
    h, w = rgb.shape[:2]
    return resize(rgb, (max(1, h // 2), max(1, w // 2)))


def gaussian_fit(rgb):
    """(mean, covariance) of an image's RGB pixels, 0-255, float64."""
    pixels = rgb.reshape(-1, 3).astype(np.float64)
    return pixels.mean(0), np.cov(pixels, rowvar=False)


def palette_distance(fit, fit_painting):
    """W2(N(m, S), N(m', S')) = sqrt(|m - m'|^2 + tr(S + S' - 2 (S'^1/2 S S'^1/2)^1/2)): the
    Wasserstein-2 distance between Gaussian fits of two images' RGB pixels, in 0-255 units
    (0: the painting's colour mean and covariance)."""
    (m, S), (m2, S2) = fit, fit_painting
    root = psd_sqrt(S2)
    cross = np.trace(S + S2 - 2 * psd_sqrt(root @ S @ root))
    return float(np.sqrt(max(np.sum((m - m2) ** 2) + cross, 0.0)))


def psd_sqrt(c):
    vals, vecs = np.linalg.eigh((c + c.T) / 2)
    return vecs @ np.diag(np.sqrt(np.maximum(vals, 0))) @ vecs.T


def targets(net, shape, photo, painting):
    """What an output of `shape` (H, W) is measured against: the photo's relu4_2 at that shape,
    the painting's Gram matrices fitted to its longer side, and at half resolution, and the
    painting's colours (a Gaussian fit of its pixels)."""
    painting = resize(painting, fit_shape(*painting.shape[:2], max(shape)))
    P = responses(net, resize(photo, shape))[1]
    A, A_half = responses(net, painting)[0], responses(net, halved(painting))[0]
    return P, A, A_half, gaussian_fit(painting)


def distances(net, output, target):
    """(content distance, style distance, style distance at half resolution, palette distance)
    of `output`."""
    P, A, A_half, colours = target
    G, F = responses(net, output)
    content = float(np.sum((F - P) ** 2) / np.sum(P**2))
    half = style_distance(responses(net, halved(output))[0], A_half)
    return content, style_distance(G, A), half, palette_distance(gaussian_fit(output), colours)


def yardstick(net, output, photo, painting):
    """distances() of one output: its targets computed for it alone."""
    return distances(net, output, targets(net, output.shape[:2], photo, painting))


def measure(net, out, pairs, settings, timings):
    """A row of figures per job that finished: its pair, setting, seconds and yardstick."""
    rows = []
    for (photo, photo_path), (painting, painting_path) in pairs:
        p, a, target = load_image(photo_path), load_image(painting_path), {}
        for setting in settings:
            name = job_name(photo, painting, setting)
            image = out / f"{name}.png"
            if not image.exists():
                continue
            output = load_image(image)
            shape = output.shape[:2]  # the same for a pair's settings: its targets once
            target[shape] = target.get(shape) or targets(net, shape, p, a)
            content, style, half, colours = distances(net, output, target[shape])
            rows.append({"pair": f"{photo}/{painting}", "setting": setting, "job": name,
                         "seconds": timings.get(name), "content": content, "style": style,
                         "style_half": half, "palette": colours})  # fmt: skip
    return rows


def contact_sheets(out, pairs, settings, tile=192):
    """sheets/PHOTO-PAINTING.png: the photo, the painting, then each setting's output, labelled."""
    (out / "sheets").mkdir(exist_ok=True)
    for (photo, photo_path), (painting, painting_path) in pairs:
        tiles = [(photo, photo_path), (painting, painting_path)]
        tiles += [(s, out / f"{job_name(photo, painting, s)}.png") for s in settings]
        sheet = contact_sheet([(label, p) for label, p in tiles if Path(p).exists()], tile)
        atomic_write(
            out / "sheets" / f"{photo}-{painting}.png", lambda f, s=sheet: s.save(f, "PNG")
        )


def gallery(out, pairs, setting, path, tile=256):
    """One JPEG for the README, the classic grid: the paintings along the top, the photos down
    the left, each pair's output of `setting` where they meet (blank where there is none)."""
    rows = list(dict.fromkeys(photo for photo, _ in pairs))  # (name, path) of each photo
    columns = list(dict.fromkeys(painting for _, painting in pairs))
    tiles = [("", None), *columns]
    for photo in rows:
        tiles.append(photo)
        for painting in columns:
            output = out / f"{job_name(photo[0], painting[0], setting)}.png"
            tiles.append((setting if output.exists() else "", output if output.exists() else None))
    sheet = contact_sheet(tiles, tile, cols=1 + len(columns))
    atomic_write(path, lambda f: sheet.save(f, "JPEG", quality=88))


def before_after(out, pair, settings, path, tile=256):
    """One JPEG for the README: a pair's photo and painting, then its output under the first
    setting (before) and the last (after)."""
    (photo, photo_path), (painting, painting_path) = pair
    first, last = list(settings)[0], list(settings)[-1]
    tiles = [(photo, photo_path), (painting, painting_path)]
    tiles += [(f"{s} ({when})", out / f"{job_name(photo, painting, s)}.png")
              for s, when in ((first, "before"), (last, "after"))]  # fmt: skip
    sheet = contact_sheet(tiles, tile, cols=4)
    atomic_write(path, lambda f: sheet.save(f, "JPEG", quality=88))


def contact_sheet(tiles, tile, cols=7):
    """One image: each (label, path) fitted into a tile x tile square, its label above it (a path
    None: left blank)."""
    from PIL import Image, ImageDraw

    cols = min(len(tiles), cols)
    sheet = Image.new("RGB", (cols * tile, -(-len(tiles) // cols) * (tile + 16)), "white")
    for k, (label, path) in enumerate(tiles):
        if path is None:  # a blank tile
            continue
        rgb = load_image(path)
        im = Image.fromarray(resize(rgb, fit_shape(*rgb.shape[:2], tile)))
        x, y = (k % cols) * tile, (k // cols) * (tile + 16)
        sheet.paste(im, (x + (tile - im.width) // 2, y + 16 + (tile - im.height) // 2))
        ImageDraw.Draw(sheet).text((x + 4, y + 2), label, fill="black")
    return sheet


def fmt(value, digits=3):
    return "-" if value is None else f"{value:.{digits}g}"


def geomean(values):
    return float(np.exp(np.mean(np.log(values)))) if len(values) else None


FIGURES = ("content", "style", "style_half", "palette")  # the yardstick's, in the tables' order
HEADS = "content | style | style, half res. | palette"


def report(rows, settings, size, where):
    """The Markdown report: per setting, each figure's geometric mean over the pairs and the
    content, half-resolution style and palette distances' ratios to the first setting's (the
    study's default; geometric means over the same pairs); then every job."""
    first = next(iter(settings))
    lines = [f"Quality study at {size} px; {where}.", ""]
    lines += [f"| setting | jobs | seconds (mean) | {HEADS} | content / {first}'s "
              f"| style half / {first}'s | palette / {first}'s |",
              "|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    base = {r["pair"]: r for r in rows if r["setting"] == first}
    for setting in settings:
        mine = [r for r in rows if r["setting"] == setting]
        seconds = [r["seconds"] for r in mine if r["seconds"] is not None]
        seconds = float(np.mean(seconds)) if seconds else None
        figures = [geomean([r[key] for r in mine]) for key in FIGURES]
        for key in ("content", "style_half", "palette"):
            figures.append(
                geomean([r[key] / base[r["pair"]][key] for r in mine if r["pair"] in base])
            )
        if mine:
            lines.append(f"| {setting} | {len(mine)} | {fmt(seconds)} | "
                         + " | ".join(map(fmt, figures)) + " |")  # fmt: skip
    lines += ["", "Distances: geometric means over the pairs (lower: nearer the photo, nearer "
              "the painting).", "", f"| pair | setting | seconds | {HEADS} |",
              "|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in rows:
        figures = [r[key] for key in ("seconds", *FIGURES)]
        lines.append(f"| {r['pair']} | {r['setting']} | " + " | ".join(map(fmt, figures)) + " |")
    return "\n".join(lines) + "\n"


def machine():
    model = platform.processor() or platform.machine()
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
        model = next(line.split(":", 1)[1].strip() for line in cpuinfo if "model name" in line)
    except (OSError, StopIteration):
        pass
    return f"{model}, {os.cpu_count()} cores, NumPy {np.__version__}"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--settings", default="sweep", help="sweep, today, or names from the sweep, "
                   "comma-separated")  # fmt: skip
    p.add_argument("--out", type=Path, default=Path("quality"))
    p.add_argument("--report", type=Path, help="default: OUT/QUALITY.md")
    p.add_argument("--workers", type=int, help="the batch's local workers (default: as measured)")
    p.add_argument(
        "--gallery", type=Path, help="also a JPEG: the last setting's outputs, photos x paintings"
    )
    p.add_argument("--before-after", type=Path, help="also a JPEG: BEFORE_AFTER_PAIR's photo, "
                   "painting, and output under the first and the last setting")  # fmt: skip
    p.add_argument("--pairs", choices=["all", "diagonal", "rest"], default="all",
                   help="all 9, DIAGONAL's 3, or the 6 others")  # fmt: skip
    p.add_argument("--dry-run", action="store_true", help="toy size, 2 iterations, 2 settings")
    p.add_argument("--measure-only", action="store_true",
                   help="run no job: measure and report the finished ones")  # fmt: skip
    args = p.parse_args(argv)
    settings, baseline = chosen_settings(args.settings)
    # the dry run: 64 px, as 32 px halved is too small for relu5_1's four poolings
    size, iterations = (args.size, None) if not args.dry_run else (64, 2)
    if args.dry_run:
        settings = dict(list(settings.items())[:2])
    run = Run(args.out, settings, size, iterations, args.workers, args.report, args.measure_only,
              args.pairs, args.gallery, baseline, args.before_after)  # fmt: skip
    return study(run)


def chosen_settings(text):
    """({name: knobs}, the options every job is given unless its knobs change them): a group
    of SETTINGS, or names from one group, comma-separated."""
    if text in SETTINGS:
        return SETTINGS[text], BASELINES[text]
    names = [n.strip() for n in text.split(",")]
    for group in ("sweep", "palette"):
        if all(n in SETTINGS[group] for n in names):
            return {n: SETTINGS[group][n] for n in names}, BASELINES[group]
    known = {g: list(SETTINGS[g]) for g in ("sweep", "palette")}
    raise SystemExit(f"quality: unknown setting(s), or from two groups: {names}; known: {known}")


@dataclass(frozen=True)
class Run:
    """What one invocation studies, and how."""

    out: Path
    settings: dict
    size: int
    iterations: int | None  # None: each setting's own; the dry run's toy count otherwise
    workers: int | None
    report_path: Path | None
    measure_only: bool = False
    pairs: str = "all"  # or "diagonal": DIAGONAL's only; "rest": the others
    gallery: Path | None = None
    baseline: dict = None  # every job's options unless its setting changes them (BASELINES)
    before_after: Path | None = None


def study(run):
    from minimal_nst import VGG19
    from minimal_nst.weights import get_weights_path

    run.out.mkdir(parents=True, exist_ok=True)
    pairs = [(ph, pa) for ph in photos(run.out / "inputs").items() for pa in paintings().items()]
    if run.pairs != "all":  # on DIAGONAL, or not
        on = run.pairs == "diagonal"
        pairs = [(ph, pa) for ph, pa in pairs if ((ph[0], pa[0]) in DIAGONAL) == on]
    jobs = manifest_rows(pairs, run.settings, run.size, run.iterations, run.baseline or TODAY)
    if run.measure_only:
        timings = known_timings(run.out)
    else:
        write_manifest(run.out / "manifest.csv", jobs)
        timings = run_batch(run.out / "manifest.csv", run.out, run.workers)
    net = VGG19.from_hdf5(get_weights_path())
    rows = measure(net, run.out, pairs, run.settings, timings)
    contact_sheets(run.out, pairs, run.settings)
    if run.gallery:
        gallery(run.out, pairs, list(run.settings)[-1], run.gallery)
    pair = [(ph, pa) for ph, pa in pairs if (ph[0], pa[0]) == BEFORE_AFTER_PAIR]
    if run.before_after and pair:
        before_after(run.out, pair[0], run.settings, run.before_after)
    (run.out / "quality.json").write_text(json.dumps(rows, indent=1))
    text = report(rows, run.settings, run.size, machine())
    atomic_write(run.report_path or run.out / "QUALITY.md", lambda f: f.write(text.encode()))
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
