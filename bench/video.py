"""Video: how still the frames hold (Ruder, Dosovitskiy & Brox 2016's measure), and the time.

    python bench/video.py [--size 128] [--frames 8] [--iterations 100] [--later-iterations 50]
                          [--real PATH] [--modes independent,warped,temporal] [--out DIR]
                          [--clips pan,zoom,cover] [--long-term 1,5,10]

Clips: `pan` (a window sliding 2 px a frame over matplotlib's Grace Hopper photo), `zoom`
(the same photo, 2% closer each frame) and `cover` (the photo still, a grey bar a fifth of its
width sweeping across it once: every pixel it passes is hidden, then uncovered), generated here
with their true optical flow; and a real
clip if --real names one (bench/VIDEO.md used OpenCV's examples/data/tree.avi, from Debian's
opencv-doc). Each clip is stylised in each mode:
  independent  (a) every frame alone, from its own content
  warped       (b) every frame after the first from the previous stylised frame, warped
  temporal     (c) that, and the temporal loss
Consistency: the mean squared difference (0-255 RGB, per value) between each stylised frame and
the previous stylised frame warped to it, over the pixels the mask trusts, averaged over the
frames after the first; the flow and mask from the true flow where it is known, else from DIS.
For the generated clips DIS's own error is measured too (mean endpoint error, pixels).
On `cover`, what the long-term loss is for (--long-term J, more temporal runs): the mean
squared difference between each stylised frame and the first, over the pixels the bar has
uncovered (hidden in between, seen in both), and over those it never hid, for comparison.
The price of it: the Eq. 7 loss (content and style, the temporal term left out) of the frames
after the first, against the first row's (mode independent). --per-pixel adds temporal runs
with other weights (lambda / (H W)). --flows instead compares the flow methods on the generated
clips (endpoint error against the truth, milliseconds a flow).
Time: seconds per frame after the first, and the part spent on the flow (both directions).
Prints Markdown tables.
"""

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from minimal_nst import Settings  # noqa: E402
from minimal_nst.app.api import DEFAULT_STYLE, default_content_path  # noqa: E402
from minimal_nst.app.files import load_image
from minimal_nst.image import fit_shape  # noqa: E402
from minimal_nst.video.clip import frames, open_clip  # noqa: E402
from minimal_nst.video.flow import consistency, optical_flow  # noqa: E402
from minimal_nst.video.run import VideoOptions, stylize_video  # noqa: E402
from minimal_nst.video.warp import warp  # noqa: E402

PAN_STEP, ZOOM_STEP = 2.0, 0.98  # px a frame; the crop's width ratio a frame
PRESETS = ("ultrafast", "fast", "medium")  # DIS's, in OpenCV
COLUMNS = ["clip", "mode", "consistency, true flow", "consistency, DIS flow",
           "Eq. 7 loss vs the first row", "s / frame", "flow s / frame"]  # fmt: skip
COVER_COLUMNS = ["mode", "uncovered vs frame 1", "never hidden vs frame 1"]
BAR = 0.2  # the cover clip's bar: a fifth of the frame's width
FLOW_COLUMNS = ["clip", "flow", "mean endpoint error, px", "ms / flow"]


def crops(kind, count, shape):
    """The boxes (left, top, right, bottom) in the photo of each frame of a generated clip."""
    h, w = shape
    boxes = []
    for k in range(count):
        if kind == "pan":
            boxes.append((40 + PAN_STEP * k, 100, 40 + PAN_STEP * k + w, 100 + h))
        elif kind == "cover":  # the photo still
            boxes.append((40, 100, 40 + w, 100 + h))
        else:  # zoom about the crop's centre
            half_w, half_h = 0.5 * w * ZOOM_STEP**k * 1.6, 0.5 * h * ZOOM_STEP**k * 1.6
            boxes.append((300 - half_w, 260 - half_h, 300 + half_w, 260 + half_h))
    return boxes


def true_flow(source, target, shape):
    """The displacement of each pixel of the frame cut at box `source` to where the same point
    of the photo lies in the frame cut at box `target` (pixel centres; (H, W, 2) float32)."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64) + 0.5
    X = source[0] + xx * (source[2] - source[0]) / w  # in the photo
    Y = source[1] + yy * (source[3] - source[1]) / h
    u = (X - target[0]) * w / (target[2] - target[0]) - xx
    v = (Y - target[1]) * h / (target[3] - target[1]) - yy
    return np.stack([u, v], axis=-1).astype(np.float32)


def generated_clip(kind, count, shape, folder):
    """The frames as PNGs in `folder` (Lanczos over exact sub-pixel boxes), and the true flows
    between each frame and the one before, [(forward, backward)] (None for the first)."""
    photo, (h, w) = Image.open(default_content_path()).convert("RGB"), shape
    boxes = crops(kind, count, shape)
    for k, box in enumerate(boxes):
        frame = np.asarray(photo.resize((w, h), Image.LANCZOS, box=box)).copy()
        if kind == "cover":
            frame[:, bar_at(k, count, w)] = 128
        Image.fromarray(frame).save(folder / f"{k:04d}.png")
    if kind == "cover":
        return [None] + [bar_flows(k, count, shape) for k in range(1, count)]
    pairs = zip(boxes, boxes[1:])
    return [None] + [(true_flow(a, b, shape), true_flow(b, a, shape)) for a, b in pairs]


def bar_at(k, count, w):
    """The cover clip's bar in frame k, as a boolean (W,) of its columns."""
    left, width, _ = bar_place(k, count, w)
    return (np.arange(w) >= left) & (np.arange(w) < left + width)


def bar_place(k, count, w):
    """(the bar's first column in frame k, its width, its step): off the frame in the first
    frame and in the last, moving the same whole number of pixels each frame."""
    width = round(BAR * w)
    step = -(-(w + width) // max(count - 1, 1))  # ceil
    return -width + step * k, width, step


def bar_flows(k, count, shape):
    """(forward, backward) true flow between frames k - 1 and k of the cover clip: the bar's
    pixels move by its step, the still photo's by nothing."""
    (h, w), step = shape, bar_place(k, count, shape[1])[2]
    flows = []
    for bar, sign in ((bar_at(k - 1, count, w), 1), (bar_at(k, count, w), -1)):
        flow = np.zeros((h, w, 2), np.float32)
        flow[:, bar, 0] = sign * step
        flows.append(flow)
    return tuple(flows)


def uncovered(stylised, count, w):
    """(over the pixels the bar has uncovered, over those it never hid): the mean squared
    difference between each stylised frame and the first, pooled over the frames."""
    hidden_since = np.zeros(w, bool)
    sums = {"uncovered": [0.0, 0], "never": [0.0, 0]}
    for k in range(1, len(stylised)):
        now = bar_at(k, count, w)
        seen_again = hidden_since & ~now
        square = ((stylised[k] - stylised[0]) ** 2).mean(axis=(0, 2))  # a column's mean
        for name, columns in (("uncovered", seen_again), ("never", ~hidden_since & ~now)):
            sums[name][0] += square[columns].sum()
            sums[name][1] += columns.sum()
        hidden_since |= now
    return [total / max(n, 1) for total, n in sums.values()]


def dis_flows(content):
    """DIS's (forward, backward) between each frame and the one before; and its seconds."""
    flows, start = [None], time.perf_counter()
    for before, now in zip(content, content[1:]):
        flows.append((optical_flow(before, now), optical_flow(now, before)))
    return flows, time.perf_counter() - start


def endpoint_error(found, true):
    """DIS against the truth: the mean distance between flow vectors, in pixels, over frames."""
    pairs = [(a[1], b[1]) for a, b in zip(found[1:], true[1:])]
    return float(np.mean([np.linalg.norm(a - b, axis=-1).mean() for a, b in pairs]))


def inconsistency(stylised, flows):
    """Mean over frames after the first of sum c (x_k - omega(x_k-1))^2 / (3 sum c)."""
    errors = []
    for k in range(1, len(stylised)):
        forward, backward = flows[k]
        before = stylised[k - 1].transpose(2, 0, 1).astype(np.float64)
        carried = warp(before, backward).transpose(1, 2, 0)
        c = consistency(forward, backward)[..., None]
        errors.append(float((c * (stylised[k] - carried) ** 2).sum() / (3 * c.sum())))
    return float(np.mean(errors))


def run_mode(clip, mode, args, out, per_pixel=None, earlier=(1,)):
    """Stylise the clip in one mode: (its frames, seconds a frame after the first, the mean
    Eq. 7 loss (the temporal term left out) of the frames after the first)."""
    settings = Settings(size=args.size, iterations=args.iterations, backend="numpy")
    shape = fit_shape(clip.size[1], clip.size[0], args.size)
    weight = None if per_pixel is None else per_pixel * shape[0] * shape[1]
    video = VideoOptions(mode, weight, args.later_iterations, earlier=earlier)
    stamps, losses = [], []

    def on_frame(k, path, result):
        stamps.append(time.perf_counter())
        last = result.history[-1]  # every temporal term has the one weight
        losses.append(last["total"] - video.weight_at(shape) * last.get("temporal", 0.0))

    paths = stylize_video(clip, str(DEFAULT_STYLE), out, settings, video=video, on_frame=on_frame)
    per_frame = (stamps[-1] - stamps[0]) / max(len(stamps) - 1, 1)
    stylised = [np.asarray(Image.open(p).convert("RGB"), np.float64) for p in paths]
    return stylised, per_frame, float(np.mean(losses[1:]))


def study_clip(name, clip, true, args, root):
    """One row per mode: consistency under the true flow (if known) and DIS's, seconds."""
    content = [load_image(f) for f in frames(clip)]
    shape = fit_shape(*content[0].shape[:2], args.size)
    content = [np.asarray(Image.fromarray(f).resize(shape[::-1], Image.LANCZOS)) for f in content]
    found, flow_seconds = dis_flows(content)
    first, kept, cover = None, {}, []
    for mode, per_pixel, earlier in runs_of(args):
        folder = root / f"{name}-{mode}{per_pixel or ''}{'-'.join(map(str, earlier[1:]))}"
        stylised, per_frame, loss = run_mode(clip, mode, args, folder, per_pixel, earlier)
        first, kept[mode] = first or loss, kept.get(mode, stylised)
        known = f"{inconsistency(stylised, true):.1f}" if true else "-"
        label = mode if per_pixel is None else f"{mode}, lambda = {per_pixel:g} H W"
        label += f", J = {' '.join(map(str, earlier))}" if len(earlier) > 1 else ""
        print(f"| {name} | {label} | {known} | {inconsistency(stylised, found):.1f} | "
              f"{loss / first:.3f} | {per_frame:.1f} | {flow_seconds / (len(content) - 1):.2f} |",
              flush=True)  # fmt: skip
        if name == "cover":
            cover.append([label, *uncovered(stylised, len(content), content[0].shape[1])])
    if true:
        print(f"\nDIS on {name}: mean endpoint error {endpoint_error(found, true):.3f} px\n")
    if cover:
        print(f"| {' | '.join(COVER_COLUMNS)} |\n|" + "---|" * len(COVER_COLUMNS))
        for label, a, b in cover:
            print(f"| {label} | {a:.1f} | {b:.1f} |")
    return kept


def runs_of(args):
    """(mode, lambda / (H W) or None, J) of each run: the modes, then --per-pixel's, then
    --long-term's."""
    runs = [(mode, None, (1,)) for mode in filter(None, args.modes.split(","))]
    runs += [("temporal", float(w), (1,)) for w in filter(None, args.per_pixel.split(","))]
    for J in filter(None, args.long_term.split(";")):
        runs.append(("temporal", None, tuple(sorted({1, *map(int, J.split(","))}))))
    return runs


def farneback(a, b):
    """OpenCV's Farneback flow (the classic dense method), for comparison with DIS."""
    import cv2

    gray = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in (a, b)]
    return cv2.calcOpticalFlowFarneback(*gray, None, 0.5, 4, 15, 5, 5, 1.1, 0)


def compare_flows(name, content, true):
    """Each flow method's mean endpoint error against the truth, and milliseconds a flow."""
    methods = {f"DIS {p}": (lambda a, b, p=p: optical_flow(a, b, p)) for p in PRESETS}
    methods["Farneback"] = farneback
    for method, flow in methods.items():
        start, errors = time.perf_counter(), []
        for k in range(1, len(content)):
            errors.append(np.linalg.norm(flow(content[k], content[k - 1]) - true[k][1], axis=-1))
        ms = 1e3 * (time.perf_counter() - start) / (len(content) - 1)
        print(f"| {name} | {method} | {np.mean(errors):.3f} | {ms:.1f} |")


def side_by_side(path, left, right, fps):
    """An animated GIF: `left` and `right` (lists of RGB frames) next to each other, looped."""
    pairs = [
        np.concatenate([a, np.full_like(a[:, :4], 255), b], axis=1) for a, b in zip(left, right)
    ]
    images = [Image.fromarray(np.clip(p, 0, 255).astype(np.uint8)) for p in pairs]
    images[0].save(path, save_all=True, append_images=images[1:], duration=round(1000 / fps),
                   loop=0)  # fmt: skip


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--iterations", type=int, default=100)
    p.add_argument("--later-iterations", type=int, default=50)
    p.add_argument("--real", help="a real clip (its first --frames frames are used)")
    p.add_argument("--modes", default="independent,warped,temporal")
    p.add_argument("--per-pixel", default="", help="more temporal runs: lambda / (H W), listed")
    p.add_argument("--long-term", default="", help="more temporal runs: J, as 1,10,20 (; between)")
    p.add_argument("--clips", default="pan,zoom")
    p.add_argument("--out", help="keep the frames here (default: a temporary folder)")
    p.add_argument("--gif", help="write the last clip's (a) beside its (c) here, animated")
    p.add_argument("--flows", action="store_true", help="only compare flow methods on the clips")
    args = p.parse_args(argv)
    root = Path(args.out or tempfile.mkdtemp(prefix="minimal-nst-video-"))
    print(f"{platform.machine()}, {os.cpu_count()} cores; {args.size} px, {args.frames} frames, "
          f"{args.iterations} iterations first, {args.later_iterations} later\n")  # fmt: skip
    columns = FLOW_COLUMNS if args.flows else COLUMNS
    print(f"| {' | '.join(columns)} |\n|" + "---|" * len(columns))
    shape = (round(args.size * 0.75), args.size)  # the generated clips' frames: 4:3
    for kind in filter(None, args.clips.split(",")):
        folder = root / f"{kind}-in"
        folder.mkdir(parents=True, exist_ok=True)
        true = generated_clip(kind, args.frames, shape, folder)
        if args.flows:
            compare_flows(kind, [load_image(f) for f in frames(open_clip(str(folder)))], true)
            continue
        kept = study_clip(kind, open_clip(str(folder)), true, args, root)
    if args.real:
        clip = open_clip(args.real)
        folder = root / "real-in"
        folder.mkdir(parents=True, exist_ok=True)
        for k, frame in zip(range(args.frames), frames(clip)):
            Image.fromarray(frame).save(folder / f"{k:04d}.png")
        kept = study_clip(Path(args.real).stem, open_clip(str(folder)), None, args, root)
    if args.gif:  # the last clip's: each frame alone (a) beside ours (c)
        side_by_side(args.gif, kept["independent"], kept["temporal"], fps=8)


if __name__ == "__main__":
    main()
