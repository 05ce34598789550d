"""Layers as a student writes them: plain NumPy and loops, nothing from scratchnet.

They follow the layer protocol (``scratchnet.layers.base.LayerProtocol``) without
subclassing anything, initialize their weights their own way and take no ``dtype`` or
``rng``, which is what ``reference.check_layer`` must cope with. The right ones pass it;
``StudentConv2DUnflipped`` and ``StudentMaxPoolAllTies`` make two classic mistakes in code
of their own, and ``HomeworkConv2D`` is the thin adapter the README shows around a
homework's one-image convolution. The CLI's tests and the README's example outputs run
``scratchnet check`` on this file.
"""

from __future__ import annotations

import numpy as np


class StudentConv2D:
    """Cross-correlation with stride, zero padding and a tied, untied or no bias; the
    backward pass scatters each output position's gradient back over its window."""

    kind = "conv2d"

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 bias="tied", input_shape=None):
        self.stride, self.padding, self.k = stride, padding, kernel_size
        bound = 1 / np.sqrt(in_channels * kernel_size * kernel_size)
        shape = (out_channels, in_channels, kernel_size, kernel_size)
        self.params = {"weight": np.random.uniform(-bound, bound, shape)}
        if bias == "tied":
            self.params["bias"] = np.zeros(out_channels)
        elif bias == "untied":                       # one bias per output position
            _, height, width = input_shape
            self.params["bias"] = np.zeros((out_channels, self.out_size(height),
                                            self.out_size(width)))
        self.grads = {key: np.zeros_like(value) for key, value in self.params.items()}

    def out_size(self, n):
        return (n + 2 * self.padding - self.k) // self.stride + 1

    def window(self, i, j):
        s, k = self.stride, self.k
        return slice(i * s, i * s + k), slice(j * s, j * s + k)

    def forward(self, x):
        p = self.padding
        self.x_padded = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
        self.height, self.width = x.shape[2:]
        weight = self.params["weight"]
        y = np.zeros((x.shape[0], weight.shape[0], self.out_size(x.shape[2]),
                      self.out_size(x.shape[3])))
        for i in range(y.shape[2]):
            for j in range(y.shape[3]):
                rows, cols = self.window(i, j)
                patch = self.x_padded[:, :, rows, cols]              # (N, C, k, k)
                y[:, :, i, j] = np.tensordot(patch, weight, axes=([1, 2, 3], [1, 2, 3]))
        if "bias" in self.params:
            bias = self.params["bias"]
            y += bias[:, None, None] if bias.ndim == 1 else bias
        return y

    def backward(self, grad_y):
        weight = self.params["weight"]
        grad_weight = np.zeros_like(weight)
        grad_padded = np.zeros_like(self.x_padded)
        for i in range(grad_y.shape[2]):
            for j in range(grad_y.shape[3]):
                rows, cols = self.window(i, j)
                g = grad_y[:, :, i, j]                               # (N, C_out)
                grad_weight += np.tensordot(g, self.x_padded[:, :, rows, cols], axes=(0, 0))
                grad_padded[:, :, rows, cols] += np.tensordot(g, weight, axes=(1, 0))
        self.grads["weight"][...] = grad_weight
        if "bias" in self.params:                    # tied: summed over positions too
            tied = self.params["bias"].ndim == 1
            self.grads["bias"][...] = grad_y.sum(axis=(0, 2, 3) if tied else 0)
        return self.input_gradient(grad_y, grad_padded)

    def input_gradient(self, grad_y, grad_padded):
        p = self.padding
        return grad_padded[:, :, p : p + self.height, p : p + self.width]


class StudentConv2DUnflipped(StudentConv2D):
    """The same convolution, with the input gradient written as eq. (4) without its R180:
    the full correlation of the (spread out) output gradient with the kernels as they
    are."""

    def input_gradient(self, grad_y, grad_padded):
        k, s, p = self.k, self.stride, self.padding
        weight = self.params["weight"]                   # should be weight[:, :, ::-1, ::-1]
        n, _, height, width = self.x_padded.shape
        spread = np.zeros((n, weight.shape[0], height - k + 1, width - k + 1))
        spread[:, :, ::s, ::s] = grad_y
        full = np.pad(spread, ((0, 0), (0, 0), (k - 1, k - 1), (k - 1, k - 1)))
        grad = np.zeros_like(self.x_padded)
        for i in range(height):
            for j in range(width):
                patch = full[:, :, i : i + k, j : j + k]             # (N, C_out, k, k)
                grad[:, :, i, j] = np.tensordot(patch, weight, axes=([1, 2, 3], [0, 2, 3]))
        return grad[:, :, p : p + self.height, p : p + self.width]


class StudentMaxPool2D:
    """Max-pooling; the gradient goes to the first maximum of each window (np.argmax)."""

    kind = "maxpool2d"

    def __init__(self, kernel_size, stride=None):
        self.kernel_size, self.stride = kernel_size, stride or kernel_size
        self.params, self.grads = {}, {}

    def out_size(self, n):
        return (n - self.kernel_size) // self.stride + 1

    def windows(self, x):
        k, s = self.kernel_size, self.stride
        for i in range(self.out_size(x.shape[2])):
            for j in range(self.out_size(x.shape[3])):
                yield i, j, x[:, :, i * s : i * s + k, j * s : j * s + k]

    def forward(self, x):
        self.x = x
        y = np.zeros((*x.shape[:2], self.out_size(x.shape[2]), self.out_size(x.shape[3])))
        for i, j, window in self.windows(x):
            y[:, :, i, j] = window.max(axis=(2, 3))
        return y

    def backward(self, grad_y):
        grad_x = np.zeros_like(self.x)
        n, c = np.indices(self.x.shape[:2])
        for i, j, window in self.windows(self.x):
            self.route(grad_x, n, c, i, j, window, grad_y[:, :, i, j])
        return grad_x

    def route(self, grad_x, n, c, i, j, window, g):
        k, s = self.kernel_size, self.stride
        first = window.reshape(*window.shape[:2], -1).argmax(axis=2)
        grad_x[n, c, i * s + first // k, j * s + first % k] += g


class StudentMaxPoolAllTies(StudentMaxPool2D):
    """The same pooling, sending each window's gradient to every element equal to its
    maximum."""

    def route(self, grad_x, n, c, i, j, window, g):
        k, s = self.kernel_size, self.stride
        at_max = window == window.max(axis=(2, 3), keepdims=True)
        grad_x[:, :, i * s : i * s + k, j * s : j * s + k] += at_max * g[:, :, None, None]


class StudentDense:
    """``y = x W^T + b`` with ``W: (out, in)``."""

    kind = "dense"

    def __init__(self, in_features, out_features):
        self.params = {"weight": np.random.randn(out_features, in_features) * 0.1,
                       "bias": np.zeros(out_features)}
        self.grads = {"weight": np.zeros((out_features, in_features)),
                      "bias": np.zeros(out_features)}

    def forward(self, x):
        self.x = x
        return x @ self.params["weight"].T + self.params["bias"]

    def backward(self, grad_y):
        self.grads["weight"] = grad_y.T @ self.x
        self.grads["bias"] = grad_y.sum(axis=0)
        return grad_y @ self.params["weight"]


class StudentReLU:
    kind = "relu"

    def __init__(self):
        self.params, self.grads = {}, {}

    def forward(self, x):
        self.positive = x > 0
        return np.where(self.positive, x, 0.0)

    def backward(self, grad_y):
        return grad_y * self.positive


class StudentSoftmaxCrossEntropy:
    """Softmax and cross-entropy averaged over the batch, by log-sum-exp."""

    def forward(self, logits, labels):
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        self.probs, self.labels = np.exp(log_probs), labels
        return -log_probs[np.arange(len(labels)), labels].mean()

    def backward(self):
        grad = self.probs.copy()
        grad[np.arange(len(self.labels)), self.labels] -= 1
        return grad / len(self.labels)


# ---- a homework's layer, and the adapter that makes it a protocol layer ----------------

class HomeworkConvLayer:
    """A convolution as the seed's homework writes it: one image ``(C, H, W)`` at a time,
    stride 1, no padding, the untied bias ``B_i`` of eq. (1); ``backward`` returns eq. (4)
    and keeps the kernel and bias gradients of eqs. (2)-(3) in ``dK`` and ``dB``."""

    def __init__(self, input_shape, n_kernels, size):
        depth, height, width = input_shape
        self.K = np.random.randn(n_kernels, depth, size, size) * 0.1
        self.B = np.zeros((n_kernels, height - size + 1, width - size + 1))

    def forward(self, X):
        self.X = X
        size = self.K.shape[2]
        Y = self.B.copy()
        for i in range(Y.shape[1]):
            for j in range(Y.shape[2]):
                Y[:, i, j] += np.tensordot(self.K, X[:, i : i + size, j : j + size], axes=3)
        return Y

    def backward(self, dE_dY):
        size = self.K.shape[2]
        self.dK, self.dB = np.zeros_like(self.K), dE_dY.copy()
        dE_dX = np.zeros_like(self.X)
        for i in range(dE_dY.shape[1]):
            for j in range(dE_dY.shape[2]):
                patch = self.X[:, i : i + size, j : j + size]
                self.dK += dE_dY[:, i, j, None, None, None] * patch
                dE_dX[:, i : i + size, j : j + size] += np.tensordot(dE_dY[:, i, j], self.K, 1)
        return dE_dX


class HomeworkConv2D:
    """The layer protocol around ``HomeworkConvLayer`` (what the README shows): batches in,
    PyTorch's parameter names, gradients summed over the batch. It has only the seed's
    untied bias and no stride or padding, so the check skips the other configurations."""

    kind = "conv2d"

    def __init__(self, in_channels, out_channels, kernel_size, bias="tied", input_shape=None):
        if bias != "untied":
            raise ValueError("the homework's layer has the seed's untied bias only")
        self.inner = HomeworkConvLayer(input_shape, out_channels, kernel_size)
        self.params = {"weight": self.inner.K, "bias": self.inner.B}
        self.grads = {"weight": np.zeros_like(self.inner.K), "bias": np.zeros_like(self.inner.B)}

    def forward(self, x):
        self.x = x
        return np.stack([self.inner.forward(image) for image in x])

    def backward(self, grad_y):
        grad_x = []
        for grad in self.grads.values():
            grad[...] = 0
        for image, g in zip(self.x, grad_y, strict=True):
            self.inner.forward(image)          # the homework's layer keeps one image only
            grad_x.append(self.inner.backward(g))
            self.grads["weight"] += self.inner.dK
            self.grads["bias"] += self.inner.dB
        return np.stack(grad_x)
