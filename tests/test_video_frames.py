"""The frame loop's promises, each a property a correct run has on a clip of known motion
(video/run.py, video/flow.py; Ruder, Dosovitskiy & Brox 2016):

- the stylised frame before is carried along the motion (a pan, a zoom, an object moving over
  a still background), not against it, and what the object uncovers is not held to it;
- a frame starts from the nearest earlier frame, and the long-term loss holds each pixel to the
  nearest earlier frame that saw it;
- each option changes what it should (the later frames' iterations, the temporal weight at the
  size painted, the temporal loss in mode temporal only), and a rerun with any other video
  option paints again;
- the consistency mask drops exactly what cannot be carried: pixels whose flow leaves the
  frame, the motion boundaries of the backward flow.

Where the network's answer does not matter, a painter stands in for stylize(): it paints
frame k a flat grey of its own level and records what it was asked. A flat image warps to
itself, so what starts a frame, and what each temporal term holds it to, says which earlier
frame it came from.
"""

import dataclasses

import numpy as np
import pytest
from PIL import Image
from test_video import frames_folder, moving_square, smooth_image

from conftest import generated_photo
from minimal_nst import LossOptions, Settings
from minimal_nst.image import deprocess, fit_shape
from minimal_nst.transfer import Result
from minimal_nst.video import VideoOptions, open_clip, run, stylize_video
from minimal_nst.video.flow import consistency

LEVELS = [30, 70, 110, 150, 190, 230]  # frame k painted flat at LEVELS[k]: 40 apart


class Painter:
    """Stands in for app.api.stylize in video/run.py: paints the k-th frame it is given flat at
    LEVELS[k], at the size stylize would paint it, and keeps what each call was given."""

    def __init__(self):
        self.calls = []

    def __call__(self, content, style, settings, loss, net=None, stop=None, masks=None,
                 temporal=None):  # fmt: skip
        self.calls.append(dict(content=content, settings=settings, temporal=temporal))
        h, w = fit_shape(*content.shape[:2], settings.size)
        return Result(image=np.full((h, w, 3), LEVELS[len(self.calls) - 1], np.uint8))

    def starts(self):
        """The level each frame started from (None: its own settings' start, not an image)."""
        inits = [c["settings"].init for c in self.calls]
        return [level(i) if isinstance(i, np.ndarray) else None for i in inits]


def level(image):
    """The flat level of an RGB image (its mean), after checking it is flat to rounding."""
    image = np.asarray(image, np.float64)
    assert image.max() - image.min() <= 1, (image.min(), image.max())
    return round(float(image.mean()))


@pytest.fixture
def painter(monkeypatch):
    fake = Painter()
    monkeypatch.setattr(run, "stylize", fake)
    return fake


def paint(tmp_path, video, clip=None, settings=None, out="out"):
    """stylize_video over a 5-frame pan (or `clip`) with the painter: no network is loaded."""
    folder = tmp_path / "frames_in"
    clip = clip or open_clip(str(folder if folder.exists() else frames_folder(tmp_path, 5)))
    settings = settings or Settings(size=32, iterations=8, backend="numpy")
    return stylize_video(clip, "style.png", tmp_path / out, settings, LossOptions(), video,
                         net=object())  # fmt: skip


def still_clip(tmp_path, count=5):
    """A clip whose frames are all one photo: the flow is 0 and every pixel is trusted."""
    folder = tmp_path / "still"
    folder.mkdir()
    for k in range(count):
        Image.fromarray(generated_photo(48, 50)).save(folder / f"f{k}.png")
    return open_clip(str(folder))


# -- where a frame starts, and what it is held to ------------------------------------------------


def test_each_frame_starts_from_the_nearest_earlier_frame(tmp_path, painter):
    """J = (1, 3): frame k is held to frames k-1 and k-3, and starts from k-1 (the one nearest
    it, whose painting is most like its own), in modes warped and temporal alike; mode
    independent starts every frame from its own start (settings.init, not an image)."""
    for mode in ("temporal", "warped"):
        painter.calls.clear()
        earlier = (1, 3) if mode == "temporal" else (1,)
        paint(tmp_path, VideoOptions(mode, earlier=earlier), out=mode)
        assert painter.starts() == [None, *LEVELS[:4]]
    painter.calls.clear()
    paint(tmp_path, VideoOptions("independent"), out="independent")
    assert painter.starts() == [None] * 5


def test_only_mode_temporal_holds_a_frame_to_the_ones_before(tmp_path, painter):
    """The paper's (b) and (c): warped starts from the frame before and is held to nothing;
    temporal is held to it from the second frame on."""
    paint(tmp_path, VideoOptions("warped"), out="warped")
    assert [c["temporal"] for c in painter.calls] == [None] * 5
    painter.calls.clear()
    paint(tmp_path, VideoOptions("temporal"), out="temporal")
    assert [None if c["temporal"] is None else len(c["temporal"]) for c in painter.calls] == [
        None, 1, 1, 1, 1
    ]  # fmt: skip


def test_the_long_term_loss_holds_each_pixel_to_the_nearest_frame_that_saw_it(tmp_path, painter):
    """On a still clip every earlier frame saw every pixel: the whole weight c goes to the frame
    just before (the term whose target is its level), none to the one before that."""
    paint(tmp_path, VideoOptions(earlier=(1, 2)), clip=still_clip(tmp_path))
    for k in (2, 3, 4):
        terms = {level(deprocess(t.w)): np.asarray(t.c) for t in painter.calls[k]["temporal"]}
        assert sorted(terms) == [LEVELS[k - 2], LEVELS[k - 1]]
        assert (terms[LEVELS[k - 1]] == 1).all() and (terms[LEVELS[k - 2]] == 0).all()


# -- what each option changes -------------------------------------------------------------------


@pytest.mark.parametrize("later, expected", [(None, 4), (3, 3), (11, 11)])
def test_later_iterations_are_the_later_frames_and_half_the_first_by_default(
    tmp_path, painter, later, expected
):
    paint(tmp_path, VideoOptions(later_iterations=later))
    assert [c["settings"].iterations for c in painter.calls] == [8] + [expected] * 4


def test_the_temporal_weight_is_per_pixel_of_the_size_painted(tmp_path, painter):
    """lambda = TEMPORAL_PER_PIXEL x H x W of the frame as painted (50x48 painted at --size 32:
    32x31), not of the clip as stored; a weight given is taken as it is."""
    paint(tmp_path, VideoOptions())
    h, w = fit_shape(48, 50, 32)
    assert (h, w) == (31, 32)
    weights = {t.weight for c in painter.calls[1:] for t in c["temporal"]}
    assert weights == {run.TEMPORAL_PER_PIXEL * h * w}
    painter.calls.clear()
    paint(tmp_path, VideoOptions(temporal_weight=123.0), out="given")
    assert {t.weight for c in painter.calls[1:] for t in c["temporal"]} == {123.0}


CHANGES = {  # one other value of each video option
    "mode": "warped",
    "temporal_weight": 5.0,
    "later_iterations": 3,
    "flow": "fast",
    "earlier": (1, 2),
}


def test_every_video_option_is_in_the_key_and_a_rerun_with_another_paints_again(tmp_path, painter):
    """A rerun with the same options keeps every frame; with any video option changed, the
    frames on disk are another run's and each is painted again."""
    assert set(CHANGES) == {f.name for f in dataclasses.fields(VideoOptions)}  # every option
    clip = open_clip(str(frames_folder(tmp_path, 3)))
    paint(tmp_path, VideoOptions(), clip=clip)
    assert len(painter.calls) == 3
    paint(tmp_path, VideoOptions(), clip=clip)
    assert len(painter.calls) == 3  # kept
    for name, value in CHANGES.items():
        painter.calls.clear()
        paint(tmp_path, dataclasses.replace(VideoOptions(), **{name: value}), clip=clip)
        assert len(painter.calls) == 3, name


# -- the painting follows the motion -------------------------------------------------------------


def textured(rng, h=80, w=100):
    return smooth_image(rng, h, w).transpose(1, 2, 0).clip(0, 255).astype(np.uint8)


def panned(image, dx, dy):
    """The view moved so that the scene goes dx right and dy down: new(x, y) = old(x-dx, y-dy)."""
    return np.roll(image, (dy, dx), axis=(0, 1))


def zoomed(image, factor):
    """The scene magnified about the centre (bilinear), as a camera zooming in."""
    h, w = image.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cy, cx = (h - 1) / 2, (w - 1) / 2
    import cv2

    maps = (cx + (xx - cx) / factor, cy + (yy - cy) / factor)
    return cv2.remap(image, *maps, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


@pytest.mark.parametrize("motion", ["pan", "zoom"])
def test_the_painting_before_is_carried_along_the_motion(motion):
    """The frame before is its own "painting" here: carried to the frame now along the flow, it
    must become the frame now where the mask trusts it. Carried the right way it is off by the
    flow's error alone (sub-pixel: a fifth of what the motion itself changes is a loose bound);
    carried the wrong way it moves twice the motion away, farther than not carrying at all."""
    rng = np.random.default_rng(7)
    before = textured(rng)
    now = panned(before, 3, 2) if motion == "pan" else zoomed(before, 1.06)
    carried, c = run.carry(now, before, before, "medium", np, np.float64)
    inner = np.zeros(now.shape[:2], bool)
    inner[10:-10, 10:-10] = True  # away from the edges, where the pan wraps round
    trusted = inner & (c == 1)
    assert trusted.mean() > 0.5 * inner.mean()  # the mask leaves most of the frame to check
    error = np.abs(deprocess(carried).astype(float) - now)[trusted].mean()
    unmoved = np.abs(before.astype(float) - now)[trusted].mean()
    assert error < 0.2 * unmoved, (error, unmoved)


# -- the consistency mask at the frame's edges and the motion boundaries -------------------------


@pytest.mark.parametrize("u, v, columns, rows", [(3, 0, (-3, None), None),
                                                 (-2.5, 0, (0, 3), None),
                                                 (0, 1, None, (-1, None))])  # fmt: skip
def test_pixels_whose_flow_leaves_the_frame_are_not_trusted(u, v, columns, rows):
    """A uniform motion, forward and backward flows undoing each other: nothing is occluded and
    nothing is a boundary, so c is 0 exactly where x + u or y + v lies outside the frame, whose
    pixels run from 0 to W - 1: u = 3 leaves the last 3 columns, u = -2.5 the first 3
    (x - 2.5 < 0 for x <= 2), v = 1 the last row."""
    h, w = 20, 24
    backward = np.broadcast_to(np.array([u, v], np.float32), (h, w, 2)).copy()
    c = consistency(-backward, backward)
    expected = np.ones((h, w), np.float32)
    if columns:
        expected[:, slice(*columns)] = 0
    if rows:
        expected[slice(*rows), :] = 0
    np.testing.assert_array_equal(c, expected)


def test_the_motion_boundaries_are_those_of_the_backward_flow():
    """The square moved 5 px right: frame i's boundaries are where it is now (columns 25 and 36,
    where the backward flow changes), not where it was (20 and 31, the forward flow's): column
    31, inside the square now, is trusted; column 36, its right edge now, is not."""
    forward, backward, (top, left, side, shift) = moving_square()
    c = consistency(forward.astype(np.float32), backward.astype(np.float32))
    rows = slice(top + 2, top + side - 2)
    assert (c[rows, left + side - 1] == 1).all()  # where the forward flow's edge is
    assert (c[rows, left + shift + side - 1] == 0).all()  # the backward flow's edge


def test_the_flow_preset_asked_for_is_the_one_used(tmp_path, painter, monkeypatch):
    """--flow reaches DIS: every flow of the run is computed with the preset given."""
    presets, real = [], run.optical_flow

    def spy(a, b, preset):
        presets.append(preset)
        return real(a, b, preset)

    monkeypatch.setattr(run, "optical_flow", spy)
    paint(tmp_path, VideoOptions(flow="ultrafast"))
    assert len(presets) == 2 * 4 and set(presets) == {"ultrafast"}  # both ways, 4 later frames


def test_what_an_occluding_object_uncovers_is_not_held_to_the_frame_before(tmp_path):
    """A flat square moves 6 px right over a textured, still background (DIS's own flow, not a
    made-up one): the strip it uncovers was hidden in the frame before, so the mask leaves it
    out, while the background far from the square is carried and trusted, and the square
    moves with its motion. The mask as fractions of the pixels, as DIS at an occlusion is
    only mostly right; what is carried within 2 of 255 levels (the flow's error, sub-pixel)."""
    rng = np.random.default_rng(8)
    background = textured(rng)
    frames_ = []
    for left in (30, 36):
        frame = background.copy()
        frame[25:55, left : left + 30] = 20  # the object: dark, flat, 30 px
        frames_.append(frame)
    before, now = frames_
    carried, c = run.carry(now, before, before, "medium", np, np.float64)
    uncovered = np.s_[30:50, 31:35]  # columns 30-35 hidden before, shown now; margins kept
    far = np.s_[5:20, 5:95]  # background rows above the square
    assert c[uncovered].mean() < 0.5 and c[far].mean() > 0.9, (c[uncovered].mean(), c[far].mean())
    off = np.abs(deprocess(carried).astype(float) - now)
    assert off[far][c[far] == 1].mean() < 2  # the still background carried as it was
    # the object carried along with it: inside its place now, where it was flat before too
    # (the wrong way, the texture beside it is carried in: off by the texture's contrast)
    assert off[30:50, 42:60].mean() < 2
