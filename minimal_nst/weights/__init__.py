"""VGG-19's trained weights: found, fetched and verified (fetch.py), so that vgg.py can read them.

python -m minimal_nst.weights [--verbose] [PATH]   # fetch and verify, print the path
"""

from .fetch import VGG19_HALF, VGG19_WEIGHTS, WeightsError, get_weights_path, verify

__all__ = ["VGG19_HALF", "VGG19_WEIGHTS", "WeightsError", "get_weights_path", "verify"]
