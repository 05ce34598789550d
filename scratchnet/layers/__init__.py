"""The seed network's layers, each beside the equations of the seed report it implements, and
the layers courses assign next, each beside the formula PyTorch's documentation gives."""

from scratchnet.layers.activations import Identity, LeakyReLU, ReLU, Sigmoid, Tanh
from scratchnet.layers.avgpool import AvgPool2D
from scratchnet.layers.base import Layer, ShapeError
from scratchnet.layers.conv import Conv2D
from scratchnet.layers.dense import Dense
from scratchnet.layers.dropout import Dropout
from scratchnet.layers.norm import BatchNorm1D, BatchNorm2D, LayerNorm
from scratchnet.layers.pool import MaxPool2D, MaxPoolReLU
from scratchnet.layers.reshape import Flatten

__all__ = [
    "AvgPool2D", "BatchNorm1D", "BatchNorm2D", "Conv2D", "Dense", "Dropout", "Flatten",
    "Identity", "Layer", "LayerNorm", "LeakyReLU", "MaxPool2D", "MaxPoolReLU", "ReLU",
    "ShapeError", "Sigmoid", "Tanh",
]
