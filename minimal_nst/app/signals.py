"""Stopping a run from outside: Ctrl-C, SIGTERM (timeout, docker stop, schedulers) and SIGHUP
(the terminal closed) all stop it at a clean point, and it keeps the best image so far."""

import signal
import threading

from ..transfer import Stop

SIGNALS = [s for s in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, s)]


class StopSignals(Stop):
    """While active, a stop signal only raises the optimiser's stop flag, which `check()` turns
    into Interrupted between two evaluations, so no evaluation is cut in half. A second Ctrl-C
    interrupts at once (KeyboardInterrupt), unless `finish` is set: then the work in hand
    (saving the result) always completes, and the caller reads `signum` afterwards.
    """

    def __init__(self, finish=False):
        super().__init__()
        self.finish, self.previous = finish, {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for name in SIGNALS:
                sig = getattr(signal, name)
                self.previous[sig] = signal.signal(sig, self._handler)
        return self

    def _handler(self, signum, frame):
        if self.signum is not None and signum == signal.SIGINT and not self.finish:
            raise KeyboardInterrupt
        self.signum = self.signum or signum

    def __exit__(self, *exc):
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)


def exit_code(signum):
    """The shell's convention: 128 + the signal's number (130 for Ctrl-C, 143 for SIGTERM)."""
    return 128 + int(signum)
