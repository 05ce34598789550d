"""Optimizers (SGD, Adam, RMSprop) and global-norm gradient clipping, in NumPy.

Each optimizer mirrors the algorithm documented for ``torch.optim`` and does the same
floating-point operations in the same order as torch's default CPU implementation
(the single-tensor loop), so the two agree to the last few bits.

An optimizer works on any object with ``named_params()`` and ``named_grads()``: two
dicts with the same keys whose values are the network's live arrays. It asks for both
dicts afresh at every ``step()`` (a backward pass may replace the gradient arrays) and
updates the parameter arrays in place, keeping their dtype. When the network hands over
its parameters gathered into one array and its gradients into another
(``net.flat_parameters()``, a ``scratchnet.flat.FlatParameters``, as ``Sequential``
does), and the dicts still hold the views into them, each step updates the two whole
arrays at once: the same arithmetic on the same numbers, in a few NumPy calls instead of a
few per parameter::

    opt = SGD(net, lr=0.01, momentum=0.9)
    for x, y in batches:
        ...forward, loss, backward...
        clip_grad_norm(net.named_grads(), max_norm=5.0)  # optional
        opt.step()

The optimizer state (step count, momentum, moment or average buffers) is a flat dict of numeric
arrays, so ``np.savez(path, **opt.state_dict())`` saves it and
``opt.load_state_dict(np.load(path, allow_pickle=False))`` restores it exactly.
Hyperparameters are constructor arguments and are not part of the state; ``lr`` is a
plain attribute that may be changed between steps (e.g. by a schedule).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Protocol

import numpy as np

from scratchnet.flat import FlatParameters


class HasParams(Protocol):
    """What an optimizer needs from a network (and may use, if the network has it:
    ``flat_parameters() -> FlatParameters | None``)."""

    def named_params(self) -> dict[str, np.ndarray]: ...

    def named_grads(self) -> dict[str, np.ndarray]: ...


def _check_range(name: str, value: float, low: float, high: float,
                 high_open: bool = False) -> None:
    """Raise ValueError unless ``low <= value <= high`` (``< high`` if ``high_open``).

    NaN fails too, as every comparison with NaN is False (likewise in the checks below).
    """
    ok = low <= value < high if high_open else low <= value <= high
    if not ok:
        bracket = ")" if high_open else "]"
        raise ValueError(f"{name} must be in [{low:g}, {high:g}{bracket}, got {value!r}")


def _check_non_negative(name: str, value: float) -> None:
    if not value >= 0.0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")


def _check_positive(name: str, value: float) -> None:
    if not value > 0.0:
        raise ValueError(f"{name} must be > 0, got {value!r}")


def _check_bool(name: str, value: object) -> None:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")


def _lerp_(start: np.ndarray, end: np.ndarray, weight: float) -> None:
    """``start <- start + weight * (end - start)``, in place, computed as torch.lerp does.

    torch evaluates the formula from the nearer end for accuracy: from ``start`` when
    ``weight < 0.5`` and as ``end - (1 - weight) * (end - start)`` otherwise.
    """
    if weight < 0.5:
        start += weight * (end - start)
    else:
        start[...] = end - (1.0 - weight) * (end - start)


class Optimizer:
    """Shared bookkeeping: fetch and check params/grads, hold and (re)store the state.

    Subclasses name their per-parameter buffers in ``buffer_names`` (e.g. ``("exp_avg",)``);
    the state then holds one zero-initialised array ``f"{buffer}.{param_name}"`` per buffer
    and parameter, with the parameter's shape and dtype, plus the step count.
    """

    buffer_names: tuple[str, ...] = ()

    def __init__(self, net: HasParams, lr: float) -> None:
        _check_non_negative("lr", lr)
        self.net = net
        self.lr = lr
        self.steps = 0  # number of step() calls so far
        params = net.named_params()
        handed = getattr(net, "flat_parameters", None)
        self._flat: FlatParameters | None = handed() if handed is not None else None
        if self._flat is not None and not self._flat.in_use(params, net.named_grads()):
            self._flat = None
        # One zero array per buffer name: flat like the parameters when they are flat.
        if self._flat is None:
            flat_buffers = None
        else:
            flat_buffers = tuple(np.zeros_like(self._flat.params) for _ in self.buffer_names)
        self.state: dict[str, np.ndarray] = {}
        start = 0
        for name, p in params.items():
            for i, buffer in enumerate(self.buffer_names):
                self.state[f"{buffer}.{name}"] = (
                    np.zeros_like(p) if flat_buffers is None
                    else flat_buffers[i][start : start + p.size].reshape(p.shape)
                )
            start += p.size
        self._flat_buffers = flat_buffers
        # The same arrays by parameter: name -> (one array per buffer name), for step().
        self._buffers: dict[str, tuple[np.ndarray, ...]] = {
            name: tuple(self.state[f"{buffer}.{name}"] for buffer in self.buffer_names)
            for name in params
        }

    def _params_and_grads(
        self,
    ) -> list[tuple[np.ndarray, np.ndarray, tuple[np.ndarray, ...]]]:
        """``(param, grad, buffers)`` for every parameter, after checking keys and shapes;
        ``buffers`` are the parameter's state arrays in ``buffer_names`` order.

        When the network's parameters and gradients are still the views into the flat
        arrays it handed over at construction, it is one triple instead: the flat
        parameters, gradients and buffers, which hold the same numbers in one array each.
        """
        params, grads = self.net.named_params(), self.net.named_grads()
        if self._flat is not None and self._flat.in_use(params, grads):
            return [(self._flat.params, self._flat.grads, self._flat_buffers)]
        for name in sorted(params.keys() - grads.keys()):
            raise ValueError(f"parameter {name!r} has no gradient in named_grads()")
        for name in sorted(grads.keys() - params.keys()):
            raise ValueError(f"gradient {name!r} has no parameter in named_params()")
        out = []
        for name, p in params.items():
            g = grads[name]
            if g.shape != p.shape:
                raise ValueError(f"{name}: gradient shape {g.shape} != parameter shape {p.shape}")
            buffers = self._buffers.get(name)
            if buffers is None:
                raise ValueError(f"parameter {name!r} was not in the network at construction")
            for buf in buffers:
                if buf.shape != p.shape:
                    raise ValueError(
                        f"{name}: parameter shape {p.shape} != shape at construction {buf.shape}"
                    )
            out.append((p, g, buffers))
        return out

    def state_dict(self) -> dict[str, np.ndarray]:
        """The state as a flat dict of arrays (copies): ``step`` (0-d int64) and buffers."""
        state = {key: buf.copy() for key, buf in self.state.items()}
        state["step"] = np.array(self.steps, dtype=np.int64)
        return state

    def load_state_dict(self, state: Mapping[str, np.ndarray]) -> None:
        """Restore a ``state_dict()`` (a dict or an ``np.load``-ed ``.npz``) exactly.

        Raises ValueError on missing or unexpected keys, a wrong shape or
        a non-integer step; buffers are copied into this optimizer's arrays (param dtype).
        """
        expected = set(self.state) | {"step"}
        missing, extra = sorted(expected - set(state)), sorted(set(state) - expected)
        if missing or extra:
            raise ValueError(f"load_state_dict: missing keys {missing}, unexpected keys {extra}")
        values = {key: np.asarray(state[key]) for key in expected}  # reads an .npz once
        step = values.pop("step")
        if step.shape != () or not np.issubdtype(step.dtype, np.integer) or step < 0:
            raise ValueError(f"load_state_dict: step must be a 0-d integer >= 0, got {step!r}")
        for key, value in values.items():
            if value.shape != self.state[key].shape:
                raise ValueError(
                    f"load_state_dict: {key} has shape {value.shape}, "
                    f"expected {self.state[key].shape}"
                )
        for key, value in values.items():  # only once every check has passed
            self.state[key][...] = value
        self.steps = int(step)

    def step(self) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    r"""Stochastic gradient descent with optional momentum, as ``torch.optim.SGD``.

    torch.optim.SGD's documented algorithm, for every parameter ``theta`` with gradient
    ``g``, at step ``t = 1, 2, ...`` (lr ``gamma``, weight decay ``lambda``, momentum
    ``mu``, dampening ``tau``)::

        if lambda != 0:  g_t <- g_t + lambda theta_{t-1}
        if mu != 0:
            if t > 1:    b_t <- mu b_{t-1} + (1 - tau) g_t
            else:        b_t <- g_t
            if nesterov: g_t <- g_t + mu b_t
            else:        g_t <- b_t
        theta_t <- theta_{t-1} - gamma g_t

    Note the first step sets the buffer to ``g`` itself, not ``(1 - dampening) * g``.
    Each line is one whole-array NumPy operation, in torch's order.

    Args:
        net: object with ``named_params()`` and ``named_grads()``.
        lr: learning rate, >= 0.
        momentum: momentum factor in [0, 1).
        dampening: dampening for momentum, in [0, 1].
        weight_decay: L2 penalty coefficient (added to the gradient), >= 0.
        nesterov: use Nesterov momentum; needs momentum > 0 and dampening == 0.
    """

    def __init__(
        self,
        net: HasParams,
        lr: float,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        _check_range("momentum", momentum, 0.0, 1.0, high_open=True)
        _check_range("dampening", dampening, 0.0, 1.0)
        _check_non_negative("weight_decay", weight_decay)
        if nesterov and (momentum <= 0.0 or dampening != 0.0):
            raise ValueError(
                "nesterov=True requires momentum > 0 and dampening == 0, "
                f"got momentum={momentum!r}, dampening={dampening!r}"
            )
        self.momentum = momentum
        self.dampening = dampening
        self.weight_decay = weight_decay
        self.nesterov = nesterov
        self.buffer_names = ("momentum_buffer",) if momentum != 0.0 else ()
        super().__init__(net, lr)

    def step(self) -> None:
        """Update every parameter in place with one SGD step."""
        items = self._params_and_grads()
        first = self.steps == 0
        for p, g, buffers in items:
            if self.weight_decay != 0.0:
                g = g + self.weight_decay * p
            if self.momentum != 0.0:
                (buf,) = buffers
                if first:
                    buf[...] = g
                else:
                    buf *= self.momentum
                    buf += (1.0 - self.dampening) * g
                g = g + self.momentum * buf if self.nesterov else buf
            p -= self.lr * g
        self.steps += 1


class Adam(Optimizer):
    r"""Adam, as ``torch.optim.Adam`` (L2 weight decay; optionally AMSGrad).

    torch.optim.Adam's documented algorithm, for every parameter ``theta`` with gradient
    ``g``, at step ``t = 1, 2, ...``, with ``m_0 = v_0 = v_0^max = 0`` (lr ``gamma``,
    betas ``beta1, beta2``, weight decay ``lambda``)::

        if lambda != 0:  g_t <- g_t + lambda theta_{t-1}
        m_t <- beta1 m_{t-1} + (1 - beta1) g_t           (as torch: m.lerp(g, 1 - beta1))
        v_t <- beta2 v_{t-1} + (1 - beta2) g_t^2
        m^_t <- m_t / (1 - beta1^t)
        if amsgrad:
            v_t^max <- max(v_{t-1}^max, v_t)
            v^_t <- v_t^max / (1 - beta2^t)
        else:
            v^_t <- v_t / (1 - beta2^t)
        theta_t <- theta_{t-1} - gamma m^_t / (sqrt(v^_t) + eps)

    The last line is evaluated in torch's order, ``theta - (gamma / (1 - beta1^t)) * m /
    (sqrt(v) / sqrt(1 - beta2^t) + eps)``, with the step size and the bias corrections as
    Python floats, so float64 results agree with torch to rounding.

    Args:
        net: object with ``named_params()`` and ``named_grads()``.
        lr: learning rate, >= 0.
        betas: decay rates ``(beta1, beta2)`` of the moment averages, each in [0, 1).
        eps: added to the denominator for stability, > 0.
        weight_decay: L2 penalty coefficient (added to the gradient), >= 0.
        amsgrad: divide by the running maximum of ``v`` (the buffer ``max_exp_avg_sq``)
            instead of ``v`` itself.
    """

    def __init__(
        self,
        net: HasParams,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
    ) -> None:
        if len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        _check_range("betas[0]", betas[0], 0.0, 1.0, high_open=True)
        _check_range("betas[1]", betas[1], 0.0, 1.0, high_open=True)
        _check_positive("eps", eps)
        _check_non_negative("weight_decay", weight_decay)
        _check_bool("amsgrad", amsgrad)
        self.betas = (float(betas[0]), float(betas[1]))
        self.eps = eps
        self.weight_decay = weight_decay
        self.amsgrad = amsgrad
        self.buffer_names = ("exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if amsgrad else ())
        super().__init__(net, lr)

    def step(self) -> None:
        """Update every parameter in place with one Adam step."""
        items = self._params_and_grads()
        beta1, beta2 = self.betas
        t = self.steps + 1
        bias_correction1 = 1 - beta1**t
        bias_correction2 = 1 - beta2**t
        step_size = self.lr / bias_correction1
        bias_correction2_sqrt = bias_correction2**0.5
        for p, g, (m, v, *v_max) in items:
            if self.weight_decay != 0.0:
                g = g + self.weight_decay * p
            _lerp_(m, g, 1 - beta1)
            v *= beta2
            v += (1 - beta2) * g * g
            if self.amsgrad:
                np.maximum(v_max[0], v, out=v_max[0])
                v = v_max[0]
            denom = np.sqrt(v) / bias_correction2_sqrt + self.eps
            p -= step_size * m / denom
        self.steps = t


class RMSprop(Optimizer):
    r"""RMSprop, as ``torch.optim.RMSprop``.

    torch.optim.RMSprop's documented algorithm, for every parameter ``theta`` with
    gradient ``g``, at step ``t = 1, 2, ...``, with ``v_0 = b_0 = g^ave_0 = 0`` (lr
    ``gamma``, smoothing constant ``alpha``, weight decay ``lambda``, momentum ``mu``)::

        if lambda != 0:  g_t <- g_t + lambda theta_{t-1}
        v_t <- alpha v_{t-1} + (1 - alpha) g_t^2        (square_avg)
        v~_t <- v_t
        if centered:
            g^ave_t <- g^ave_{t-1} alpha + (1 - alpha) g_t   (grad_avg; as torch, a lerp)
            v~_t <- v~_t - (g^ave_t)^2
        if mu > 0:
            b_t <- mu b_{t-1} + g_t / (sqrt(v~_t) + eps)   (momentum_buffer)
            theta_t <- theta_{t-1} - gamma b_t
        else:
            theta_t <- theta_{t-1} - gamma g_t / (sqrt(v~_t) + eps)

    ``eps`` is added after the square root, and there is no bias correction: the first
    steps divide by ``sqrt(1 - alpha) |g|``, i.e. they are ``1 / sqrt(1 - alpha)`` times
    larger than later ones (10x at ``alpha = 0.99``). Each line is one whole-array NumPy
    operation, in torch's order.

    Args:
        net: object with ``named_params()`` and ``named_grads()``.
        lr: learning rate, >= 0.
        alpha: smoothing constant of the square average, in [0, 1).
        eps: added to the denominator (after the square root) for stability, > 0.
        weight_decay: L2 penalty coefficient (added to the gradient), >= 0.
        momentum: momentum factor in [0, 1).
        centered: divide by the estimated variance of the gradient (the square average
            minus the square of the gradient's average) instead of its second moment.
    """

    def __init__(
        self,
        net: HasParams,
        lr: float = 0.01,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
    ) -> None:
        _check_range("alpha", alpha, 0.0, 1.0, high_open=True)
        _check_positive("eps", eps)
        _check_non_negative("weight_decay", weight_decay)
        _check_range("momentum", momentum, 0.0, 1.0, high_open=True)
        _check_bool("centered", centered)
        self.alpha = float(alpha)
        self.eps = eps
        self.weight_decay = weight_decay
        self.momentum = momentum
        self.centered = centered
        self.buffer_names = (("square_avg",) + (("momentum_buffer",) if momentum > 0 else ())
                             + (("grad_avg",) if centered else ()))
        super().__init__(net, lr)

    def step(self) -> None:
        """Update every parameter in place with one RMSprop step."""
        alpha = self.alpha
        for p, g, buffers in self._params_and_grads():
            state = dict(zip(self.buffer_names, buffers, strict=True))
            if self.weight_decay != 0.0:
                g = g + self.weight_decay * p
            square_avg = state["square_avg"]
            square_avg *= alpha
            square_avg += (1 - alpha) * g * g
            if self.centered:
                grad_avg = state["grad_avg"]
                _lerp_(grad_avg, g, 1 - alpha)
                avg = np.sqrt(square_avg - grad_avg * grad_avg)
            else:
                avg = np.sqrt(square_avg)
            avg += self.eps
            if self.momentum > 0:
                buf = state["momentum_buffer"]
                buf *= self.momentum
                buf += g / avg
                p -= self.lr * buf
            else:
                p -= self.lr * g / avg
        self.steps += 1


def global_grad_norm(grads: Mapping[str, np.ndarray]) -> float:
    r"""The L2 norm of all gradients taken together: ``sqrt(sum_k sum_i grads[k]_i^2)``.

    Accumulated in float64 whatever the gradients' dtype.
    """
    return math.sqrt(sum(float(np.sum(np.square(g, dtype=np.float64))) for g in grads.values()))


def clip_grad_norm(grads: Mapping[str, np.ndarray], max_norm: float) -> float:
    r"""Scale all gradients in place so their global L2 norm is at most ``max_norm``.

    With ``n = global_grad_norm(grads)`` and ``c = max_norm / (n + 1e-6)``, every gradient
    is multiplied by ``c`` if ``c < 1`` (else left alone), as
    ``torch.nn.utils.clip_grad_norm_``. Unlike torch, a non-finite norm leaves the
    gradients untouched (torch would multiply them by NaN); the returned norm shows it.

    Args:
        grads: name -> gradient array, e.g. ``net.named_grads()`` (modified in place).
        max_norm: the largest allowed global norm, > 0.

    Returns:
        The global norm before clipping.
    """
    _check_positive("max_norm", max_norm)
    total_norm = global_grad_norm(grads)
    coef = max_norm / (total_norm + 1e-6)
    if coef < 1.0:
        for g in grads.values():
            g *= coef
    return total_norm
