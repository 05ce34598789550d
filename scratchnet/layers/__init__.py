"""The seed network's layers, each beside the equations of the seed report it implements."""

from scratchnet.layers.activations import Identity, ReLU
from scratchnet.layers.base import Layer, ShapeError
from scratchnet.layers.conv import Conv2D
from scratchnet.layers.dense import Dense
from scratchnet.layers.pool import MaxPool2D, MaxPoolReLU
from scratchnet.layers.reshape import Flatten

__all__ = [
    "Conv2D", "Dense", "Flatten", "Identity", "Layer", "MaxPool2D", "MaxPoolReLU", "ReLU",
    "ShapeError",
]
