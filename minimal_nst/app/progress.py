"""What a run shows while it paints: a progress bar (tqdm) and snapshots every N iterations."""

import io
import sys

from tqdm import tqdm

from ..transfer import iterations_per_scale, scale_sizes
from .files import save_image
from .outputs import snapshot_path

BAR = "{percentage:3.0f}%|{bar:20}| {desc}  {elapsed} ETA {remaining}"


class Progress:
    """callback(record, image_fn) for stylize(). The ETA weighs each iteration by its scale's
    pixels: at sqrt(2) times the size an iteration costs twice as much.

    On a terminal the bar is redrawn every iteration; elsewhere (a log) a line is printed
    every `print_every` iterations. 0 turns it off.
    """

    def __init__(self, output, settings, print_every, save_every, stream=None):
        self.output, self.settings, self.stream = output, settings, stream or sys.stderr
        self.print_every, self.save_every = max(print_every, 0), save_every
        self.tty, self.bar = self.stream.isatty(), None
        self.note = ""  # a line to print when the painting starts

    def _start(self):
        """The bar, made at the first iteration: stylize() has checked the settings by then."""
        if self.note:
            print(self.note, file=self.stream)
        sizes = scale_sizes(self.settings.size, self.settings.scales)
        self.cost = [(s / sizes[-1]) ** 2 for s in sizes]  # in full-size iterations
        counts = iterations_per_scale(self.settings)
        self.iterations = sum(counts)
        self.bar = tqdm(
            total=sum(n * cost for n, cost in zip(counts, self.cost)),
            file=self.stream if self.tty else io.StringIO(),
            bar_format=BAR,
            disable=not self.print_every,
        )

    def __call__(self, record, image_fn):
        if self.bar is None:
            self._start()
        done = record["iteration"]  # counted across the scales
        if self.save_every and done % self.save_every == 0:
            self._snapshot(image_fn, done)
        if not self.print_every:
            return
        text = (
            f"{done}/{self.iterations}  total {record['total']:.3e}  "
            f"content {record['content']:.3e}  style {record['style']:.3e}"
        )
        if record["of"] > 1:
            text += f"  scale {record['scale']}/{record['of']}"
        self.bar.set_description_str(text, refresh=False)
        self.bar.update(self.cost[record["scale"] - 1])
        if not self.tty and done % self.print_every == 0:
            print(tqdm.format_meter(**self.bar.format_dict), file=self.stream, flush=True)

    def _snapshot(self, image_fn, iteration):
        """NAME_0100.png; a failed write is said once and the run goes on without snapshots."""
        path = snapshot_path(self.output, iteration)
        try:
            save_image(path, image_fn())
        except OSError as e:
            self.save_every = 0
            print(
                f"\nminimal-nst: could not save {path} ({e.strerror or e}); no more snapshots",
                file=self.stream,
            )

    def close(self):
        if self.bar is not None:
            self.bar.close()
