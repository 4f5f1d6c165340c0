"""The application around the algorithm: the `minimal-nst` command (cli.py, options.py), the
file boundary (files.py, inputs.py, outputs.py: every input checked once, every output written
atomically), the Python API's stylize() (api.py), and what a run needs from its machine: memory
(memory.py), signals (signals.py), progress and a live preview, the gradient checks (check.py).

The algorithm (the package root) never imports from here.
"""
