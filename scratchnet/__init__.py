"""scratchnet: the seed report's convolutional network, written from scratch in NumPy."""

from scratchnet.layers import (
    AvgPool2D,
    BatchNorm1D,
    BatchNorm2D,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    Identity,
    Layer,
    LayerNorm,
    LeakyReLU,
    MaxPool2D,
    ReLU,
    ShapeError,
    Sigmoid,
    Tanh,
)
from scratchnet.losses import SoftmaxCrossEntropy
from scratchnet.network import Sequential, seed_network

__all__ = [
    "AvgPool2D",
    "BatchNorm1D",
    "BatchNorm2D",
    "Conv2D",
    "Dense",
    "Dropout",
    "Flatten",
    "Identity",
    "Layer",
    "LayerNorm",
    "LeakyReLU",
    "MaxPool2D",
    "ReLU",
    "Sequential",
    "ShapeError",
    "Sigmoid",
    "SoftmaxCrossEntropy",
    "Tanh",
    "seed_network",
]
