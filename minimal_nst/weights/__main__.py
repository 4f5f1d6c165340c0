"""python -m minimal_nst.weights: fetch and verify the VGG-19 weights, print their path."""

import sys

from .fetch import main

sys.exit(main())
