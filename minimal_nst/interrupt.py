"""Ctrl-C during an optimisation: stop at a clean point and keep the best image so far."""

import signal
import threading


class Interrupted(Exception):
    """Ctrl-C was pressed: the optimisation stops and keeps its best image."""


class CtrlC:
    """While active, Ctrl-C only raises a flag that `check()` turns into Interrupted between
    two evaluations, so no evaluation is cut in half; a second Ctrl-C interrupts at once."""

    requested = False

    def __enter__(self):
        self.previous = None
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def _handler(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def check(self):
        if self.requested:
            raise Interrupted

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
