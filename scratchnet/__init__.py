"""scratchnet: the seed report's convolutional network, written from scratch in NumPy."""

from scratchnet.layers import (
    Conv2D,
    Dense,
    Flatten,
    Identity,
    Layer,
    MaxPool2D,
    ReLU,
    ShapeError,
)
from scratchnet.losses import SoftmaxCrossEntropy
from scratchnet.network import Sequential, seed_network

__all__ = [
    "Conv2D",
    "Dense",
    "Flatten",
    "Identity",
    "Layer",
    "MaxPool2D",
    "ReLU",
    "Sequential",
    "ShapeError",
    "SoftmaxCrossEntropy",
    "seed_network",
]
