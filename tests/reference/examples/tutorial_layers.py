"""Right layers in the styles "CNN from scratch" tutorials and student projects use,
checked by declaring how each keeps its state (``scratchnet check ... --declare``):

* ``Conv3x3``: one grey image at a time, ``(h, w) -> (h - 2, w - 2, num_filters)``
  (channels last, no batch axis), kernels ``filters: (num_filters, 3, 3)``, no bias, and a
  backward that takes the gradient step itself and returns nothing (a first layer);
* ``FullyConnected``: ``W: (in, out)`` and a column bias ``b: (out, 1)``, gradients
  ``dW`` and ``db`` averaged over the batch, as code paired with an unaveraged loss
  gradient writes them.
"""

import numpy as np


class Conv3x3:
    def __init__(self, num_filters):
        self.num_filters = num_filters
        self.filters = np.random.randn(num_filters, 3, 3) / 9

    def regions(self, image):
        h, w = image.shape
        for i in range(h - 2):
            for j in range(w - 2):
                yield image[i:i + 3, j:j + 3], i, j

    def forward(self, image):
        self.last_input = image
        h, w = image.shape
        out = np.zeros((h - 2, w - 2, self.num_filters))
        for region, i, j in self.regions(image):
            out[i, j] = np.sum(region * self.filters, axis=(1, 2))
        return out

    def backward(self, d_out, learn_rate):
        d_filters = np.zeros(self.filters.shape)
        for region, i, j in self.regions(self.last_input):
            for f in range(self.num_filters):
                d_filters[f] += d_out[i, j, f] * region
        self.filters -= learn_rate * d_filters
        return None


class FullyConnected:
    def __init__(self, n_in, n_out):
        self.W = np.random.randn(n_in, n_out) * 0.01
        self.b = np.zeros((n_out, 1))

    def forward(self, x):
        self.x = x
        return x @ self.W + self.b.T

    def backward(self, grad):
        n = self.x.shape[0]
        self.dW = self.x.T @ grad / n
        self.db = grad.sum(axis=0)[:, None] / n
        return grad @ self.W.T
