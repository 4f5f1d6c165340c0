"""minimal_nst: Gatys, Ecker & Bethge's neural style transfer, by hand, on NumPy or CuPy.

The package's modules are the algorithm (README, "Read the code": backend.py to transfer.py);
its subpackages are the tool around it: weights/, app/ (the command line, the files, and
stylize(), the one name here that comes from one), batch/ and video/.
"""

from .app.api import stylize
from .backend import get_array_module, get_backend
from .losses import LossOptions
from .masks import Masks
from .objective import Objective
from .transfer import Result, Settings
from .vgg import VGG19, VGG19_LAYERS

__all__ = [
    "LossOptions",
    "Masks",
    "Objective",
    "Result",
    "Settings",
    "VGG19",
    "VGG19_LAYERS",
    "get_array_module",
    "get_backend",
    "stylize",
]
