"""The demo: `python scripts/stylize.py` paints the demo images; `--help` lists every option.

The same program as the `minimal-nst` command (minimal_nst/app/cli.py).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout, too

try:
    from minimal_nst.app.cli import main
except KeyboardInterrupt:  # Ctrl-C while NumPy and SciPy load: one line, like any other end
    sys.stderr.write("\nminimal-nst: interrupted while starting; nothing saved\n")
    sys.exit(130)

if __name__ == "__main__":
    sys.exit(main())
