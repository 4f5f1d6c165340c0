"""The demo: `python scripts/stylize.py` paints the demo images; `--help` lists every option.

The same program as the `minimal-nst` command (minimal_nst/cli.py).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout, too

from minimal_nst.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
