"""minimal_nst: Gatys, Ecker & Bethge's neural style transfer, by hand, on NumPy or CuPy."""

from .backend import get_array_module, get_backend
from .losses import LossOptions
from .masks import Masks
from .objective import Objective
from .stylize import Result, Settings, stylize
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
