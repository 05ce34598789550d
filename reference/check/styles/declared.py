"""A class written its own way, checked from a few declared facts: where it keeps its
weights and gradients, in which layout, how its constructor is called, and how it takes
its input (channels last, one image at a time, gradients averaged, a step inside
``backward``).

The declaration is a mapping of the keys below, the same from Python
(``declare(Conv3x3, "conv2d", args="num_filters=out_channels", weight="filters", ...)``),
from the command line (``--declare weight=filters``) and in a grading config::

    args            the constructor's arguments, as the kind's names, in its order:
                    "in_channels, out_channels, kernel_size" (positional) or
                    "num_filters=out_channels" (keyword); default: scratchnet's
    fixed           the kind's arguments the class has one value of, built in: "bias=untied",
                    "stride=1" (configurations with another value are not its)
    weight, bias    where the weights are: an attribute "W", or a dict item "params[W]";
                    bias = "none": it has no bias (configurations with one are not its)
    grad_weight, grad_bias
                    where backward leaves the gradients ("dW", "grads[W]"), or
                    grads = "returned": backward returns (dx, dW, db)
    weight_layout   its axes, named: "(in, out)" for a dense weight (PyTorch: (out, in)),
                    "(kh, kw, in, out)" or "(out, kh, kw)" (one input channel) for a kernel
    bias_layout     "(out, 1)" for a column bias (PyTorch: (out,))
    input, output   the data's axes: "(N, H, W, C)" channels last, "(H, W, C)" or "(H, W)"
                    one image at a time (the check loops over the batch); PyTorch: (N, C, H, W)
    grads_averaged  true: the gradients are the batch's mean, not its sum (the check
                    multiplies them back, and says so)
    learning_rate   the name of backward's learning-rate argument, when backward also
                    takes the step: the check gives it 1, reads the gradient from the step
                    and undoes it
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from reference.guard import NotSupportedError, ProtocolError
from reference.kinds import KINDS

KEYS = ("args", "fixed", "weight", "bias", "grad_weight", "grad_bias", "grads", "weight_layout",
        "bias_layout", "input", "output", "grads_averaged", "learning_rate")

#: PyTorch's axes of the data, by the names a declaration uses.
DATA_AXES = {4: ("N", "C", "H", "W"), 2: ("N", "F")}


def parameter_axes(key: str, ndim: int) -> tuple[str, ...]:
    """PyTorch's axes of a parameter, by the names a declaration uses: a kernel
    ``(out, in, kh, kw)``, a dense weight ``(out, in)``, a bias ``(out,)`` (an untied one
    ``(out, ho, wo)``)."""
    if key == "weight":
        return ("out", "in", "kh", "kw") if ndim == 4 else ("out", "in")
    return ("out", "ho", "wo")[:ndim]

TRUE = ("true", "yes", "1", "on")


class DeclarationError(ValueError):
    """A declaration that cannot be read: an unknown key or a malformed value."""


def axes(text: str, key: str) -> tuple[str, ...]:
    """``"(kh, kw, in, out)"`` -> ``("kh", "kw", "in", "out")``."""
    names = tuple(a.strip() for a in text.strip().strip("()").split(",") if a.strip())
    if not names:
        raise DeclarationError(f"{key}: expected axes like '(in, out)', got {text!r}")
    return names


def to_layout(array: np.ndarray, ours: tuple[str, ...], theirs: tuple[str, ...],
              key: str) -> np.ndarray:
    """``array`` (axes ``ours``) rearranged to the axes ``theirs``: an axis theirs lacks
    must have size 1 and is dropped, a ``"1"`` of theirs is a new axis of size 1."""
    unknown = [a for a in theirs if a != "1" and a not in ours]
    if unknown:
        raise DeclarationError(f"{key}: unknown axis {unknown[0]!r}: expected some of "
                               f"{', '.join(ours)} (or 1)")
    for i, a in enumerate(ours):
        if a not in theirs and array.shape[i] != 1:
            raise ProtocolError(f"{key} {'(' + ', '.join(theirs) + ')'} has no {a} axis, "
                                f"but this configuration has {array.shape[i]} of them")
    kept = [a for a in ours if a in theirs]
    squeezed = array.reshape([n for a, n in zip(ours, array.shape, strict=True) if a in theirs])
    moved = squeezed.transpose([kept.index(a) for a in theirs if a != "1"])
    return moved.reshape([1 if a == "1" else moved.shape[[t for t in theirs if t != "1"]
                                                          .index(a)] for a in theirs])


def from_layout(array: np.ndarray, theirs: tuple[str, ...], ours: tuple[str, ...],
                shape: tuple[int, ...], what: str) -> np.ndarray:
    """The inverse of ``to_layout``: ``array`` in the axes ``theirs`` back in ``ours``,
    of ``shape``; a ProtocolError when it does not have the size the layout says."""
    kept = [a for a in theirs if a != "1"]
    expected = tuple(shape[ours.index(a)] for a in kept)
    squeezed = np.asarray(array)
    if squeezed.size != int(np.prod(expected)):
        raise ProtocolError(f"{what} has shape {squeezed.shape}, expected "
                            f"{'(' + ', '.join(theirs) + ')'} = {expected}")
    squeezed = squeezed.reshape(expected)
    order = [kept.index(a) for a in ours if a in kept]
    return squeezed.transpose(order).reshape(shape)


class Path:
    """Where a class keeps an array: an attribute (``"W"``) or a dict item
    (``"params[W]"``)."""

    def __init__(self, text: str, key: str) -> None:
        match = re.fullmatch(r"\s*([A-Za-z_]\w*)\s*(?:\[\s*['\"]?(\w+)['\"]?\s*\])?\s*", text)
        if match is None:
            raise DeclarationError(f"{key}: expected an attribute like 'W' or a dict item "
                                   f"like 'params[W]', got {text!r}")
        self.attribute, self.item, self.text = match.group(1), match.group(2), text.strip()

    def get(self, obj: Any) -> Any:
        value = getattr(obj, self.attribute, None)
        if value is None:
            raise ProtocolError(f"the layer has no {self.attribute!r} after this call "
                                f"(declared: {self.text})")
        if self.item is None:
            return value
        try:
            return value[self.item]
        except (KeyError, IndexError, TypeError):
            raise ProtocolError(f"{self.attribute} has no item {self.item!r} (declared: "
                                f"{self.text})") from None

    def set(self, obj: Any, value: np.ndarray) -> None:
        if self.item is None:
            setattr(obj, self.attribute, value)
            return
        holder = getattr(obj, self.attribute, None)
        if holder is None:
            raise ProtocolError(f"the layer has no {self.attribute!r} to hold {self.item!r} "
                                f"(declared: {self.text})")
        holder[self.item] = value


def parse_args(text: str | None, kind: str) -> list[tuple[str | None, str]]:
    """``"num_filters=out_channels, kernel_size"`` -> ``[("num_filters", "out_channels"),
    (None, "kernel_size")]``: how each of the kind's arguments is passed."""
    if text is None:
        return []
    names = list(inspect.signature(KINDS[kind].scratchnet).parameters)
    parsed = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        keyword, _, name = part.rpartition("=")
        name = name.strip()
        if name not in names:
            raise DeclarationError(f"args: {name!r} is not an argument of the {kind} kind: "
                                   f"expected some of {', '.join(names)}")
        parsed.append((keyword.strip() or None, name))
    return parsed


def parse_fixed(text: str | None, kind: str) -> dict[str, Any]:
    """``"bias=untied, stride=1"`` -> ``{"bias": "untied", "stride": 1}`` (numbers as
    numbers, ``none`` as None), each a name of the kind's arguments."""
    if not text:
        return {}
    names = list(inspect.signature(KINDS[kind].scratchnet).parameters)
    fixed: dict[str, Any] = {}
    for part in (p.strip() for p in text.split(",") if p.strip()):
        name, equals, value = (t.strip() for t in part.partition("="))
        if not equals or name not in names:
            raise DeclarationError(f"fixed: expected NAME=VALUE with NAME one of "
                                   f"{', '.join(names)}, got {part!r}")
        fixed[name] = (None if value.lower() == "none" else int(value)
                       if value.lstrip("-").isdigit() else value)
    return fixed


def read(declaration: Mapping[str, Any], kind: str) -> dict[str, Any]:
    """The declaration checked and parsed: unknown keys and malformed values raise a
    DeclarationError that names them."""
    unknown = sorted(set(declaration) - set(KEYS))
    if unknown:
        raise DeclarationError(f"unknown declaration key {unknown[0]!r}: expected some of "
                               f"{', '.join(KEYS)}")
    d = {k: (v.strip() if isinstance(v, str) else v) for k, v in declaration.items()}
    if "grads" in d and d["grads"] != "returned":
        raise DeclarationError(f"grads: the only value is 'returned' (backward returns "
                               f"(dx, dW, db)), got {d['grads']!r}")
    for key in ("grads_averaged",):
        if isinstance(d.get(key), str):
            d[key] = d[key].lower() in TRUE
    parsed = {"args": parse_args(d.get("args"), kind), "fixed": parse_fixed(d.get("fixed"), kind)}
    parsed["no_bias"] = str(d.get("bias", "")).lower() == "none"
    for key in ("weight", "bias", "grad_weight", "grad_bias"):
        if d.get(key) and not (key == "bias" and parsed["no_bias"]):
            parsed[key] = Path(d[key], key)
    for key in ("weight_layout", "bias_layout", "input", "output"):
        if d.get(key):
            parsed[key] = axes(d[key], key)
    parsed["returned"] = d.get("grads") == "returned"
    parsed["averaged"] = bool(d.get("grads_averaged"))
    parsed["learning_rate"] = d.get("learning_rate") or None
    return parsed


def conventions(d: dict[str, Any]) -> list[str]:
    """The declaration in words, where it differs from PyTorch's conventions."""
    words = []
    if "weight_layout" in d:
        words.append(f"weight as ({', '.join(d['weight_layout'])})")
    if "bias_layout" in d:
        words.append(f"bias as ({', '.join(d['bias_layout'])})")
    for key in ("input", "output"):
        if key in d:
            words.append(f"{key} as ({', '.join(d[key])})"
                         + (", one image at a time" if "N" not in d[key] else ""))
    if d["returned"]:
        words.append("backward returns (dx, dW, db)")
    if d["averaged"]:
        words.append("gradients averaged over the batch (multiplied back by the batch size "
                     "here; right only when the loss's gradient is not averaged too)")
    if d["learning_rate"]:
        words.append(f"backward takes the step itself ({d['learning_rate']}=1, undone)")
    return words


def declare(cls: type, kind: str, **declaration: Any) -> type:
    """A protocol class checking ``cls`` as a layer of ``kind`` through ``declaration``
    (see the module); its ``conventions`` say what was declared, in words."""
    if kind not in KINDS or KINDS[kind].loss:
        raise DeclarationError(f"declare: kind must be a layer kind, one of "
                               f"{', '.join(k for k in KINDS if not KINDS[k].loss)}")
    d = read(declaration, kind)
    scratchnet = KINDS[kind].scratchnet
    accepted = ({name for _, name in d["args"]} if d["args"]
                else set(inspect.signature(cls).parameters))
    if d["no_bias"]:
        accepted.add("bias")                      # bias=None only: others are not its
    accepted |= set(d["fixed"])                   # the fixed value only: others are not its

    class Declared:
        """``cls`` seen through its declaration, as the layer protocol."""

        def __init__(self, *args: Any, **options: Any) -> None:
            names = list(inspect.signature(scratchnet).parameters)
            values = dict(zip(names, args, strict=False)) | options
            defaults = {n: p.default for n, p in inspect.signature(scratchnet).parameters.items()}
            for name, value in d["fixed"].items():
                if values.get(name, defaults.get(name)) != value:
                    raise NotSupportedError(f"it has {name}={value} only (declared fixed)")
            reference = scratchnet(*args, **options)
            if d["no_bias"] and "bias" in reference.params:
                raise NotSupportedError("it has no bias (declared bias=none)")
            for key, value in reference.params.items():
                missing = [(a, n) for a, n in zip(parameter_axes(key, value.ndim), value.shape,
                                                  strict=True)
                           if key + "_layout" in d and a not in d[key + "_layout"] and n != 1]
                if missing:
                    raise NotSupportedError(f"its {key} has no {missing[0][0]} axis (declared "
                                            f"{key}_layout=({', '.join(d[key + '_layout'])}))")
            self.params = {k: np.zeros_like(v, dtype=np.float64)
                           for k, v in reference.params.items()}
            self.grads: dict[str, Any] = {}
            if d["args"]:
                absent = [n for _, n in d["args"] if n not in values]
                if absent:
                    raise NotSupportedError(f"this configuration gives no {absent[0]}, which "
                                            f"its constructor takes (declared args)")
                positional = [values[n] for k, n in d["args"] if k is None]
                keywords = {k: values[n] for k, n in d["args"] if k is not None}
                self.inner = cls(*positional, **keywords)
            else:
                self.inner = cls(*args, **options)
            self._fits()

        def _fits(self) -> None:
            """Not supported when the weights the class made have another shape than this
            configuration's (a class with a fixed 3x3 kernel, say)."""
            for key, value in self.params.items():
                if key not in d:
                    continue
                try:
                    made = np.shape(d[key].get(self.inner))
                except ProtocolError:
                    continue                       # made later (on its first forward)
                ours = parameter_axes(key, value.ndim)
                layout = d.get(f"{key}_layout") or ours
                needed = to_layout(value, ours, layout, f"{key}_layout").shape
                if made != needed:
                    raise NotSupportedError(f"its {key} is {made}, this configuration's is "
                                            f"{needed} ({', '.join(layout)})")

        # -- the weights, both ways ------------------------------------------------------
        def _put_weights(self) -> None:
            for key, value in self.params.items():
                path = d.get(key)
                if path is None:
                    holder = getattr(self.inner, "params", None)
                    if not isinstance(holder, dict):
                        raise ProtocolError(f"declare where the {key} is kept "
                                            f"({key}=ATTRIBUTE): the class has no params dict")
                    path = Path(f"params[{key}]", key)
                ours = parameter_axes(key, value.ndim)
                layout = d.get(f"{key}_layout") or ours
                path.set(self.inner, to_layout(value, ours, layout, f"{key}_layout").copy())

        def _read_grad(self, key: str, value: Any, batch: int) -> np.ndarray:
            shape = self.params[key].shape
            ours = parameter_axes(key, len(shape))
            layout = d.get(f"{key}_layout") or ours
            grad = from_layout(value, layout, ours, shape, f"the {key} gradient")
            return grad * batch if d["averaged"] else grad

        # -- the data, both ways ---------------------------------------------------------
        def _axes(self, ndim: int) -> tuple[str, ...]:
            return DATA_AXES.get(ndim, tuple(f"a{i}" for i in range(ndim)))

        def _call(self, fn: Any, array: np.ndarray, layout: tuple[str, ...] | None,
                  *extra: Any, **keywords: Any) -> list[Any]:
            """``fn`` on ``array`` in ``layout``: once, or once per image."""
            ours = self._axes(array.ndim)
            if layout is None:
                return [fn(array, *extra, **keywords)]
            theirs = tuple(a for a in layout)
            if "N" in theirs:
                return [fn(to_layout(array, ours, theirs, "input"), *extra, **keywords)]
            return [fn(to_layout(array[n:n + 1], ours, theirs, "input"), *extra, **keywords)
                    for n in range(array.shape[0])]

        def forward(self, x: np.ndarray) -> np.ndarray:
            self._put_weights()
            self.x = x
            outputs = self._call(self.inner.forward, x, d.get("input"))
            return self._back(outputs, d.get("output"), self._out_shape(outputs, x), "output")

        def _out_shape(self, outputs: list[Any], x: np.ndarray) -> tuple[int, ...]:
            layout = d.get("output")
            first = np.asarray(outputs[0])
            if layout is None:
                return first.shape
            sizes = dict(zip([a for a in layout if a != "1"], first.shape, strict=False))
            ours = self._axes(x.ndim)
            return tuple(x.shape[0] if a == "N" else sizes.get(a, 1) for a in ours)

        def _back(self, results: list[Any], layout: tuple[str, ...] | None,
                  shape: tuple[int, ...], what: str) -> np.ndarray:
            if layout is None:
                return results[0]
            ours = self._axes(len(shape))
            if "N" in layout:
                return from_layout(results[0], layout, ours, shape, what)
            one = (1, *shape[1:])
            return np.concatenate([from_layout(r, layout, ours, one, what) for r in results])

        def backward(self, grad_y: np.ndarray) -> Any:
            before = {k: np.array(d[k].get(self.inner) if k in d else
                                  self.inner.params[k]) for k in self.params} \
                if d["learning_rate"] else {}
            keywords = {d["learning_rate"]: 1.0} if d["learning_rate"] else {}
            per_image = "N" not in (d.get("input") or ("N",))
            grads: dict[str, np.ndarray] = {}
            results = []
            images = range(grad_y.shape[0]) if per_image else [None]
            for n in images:
                if per_image:                      # the layer keeps one image: run it again
                    self._put_weights()
                    self._call(self.inner.forward, self.x[n:n + 1], d.get("input"))
                    g = grad_y[n:n + 1]
                else:
                    g = grad_y
                result = self._call(self.inner.backward, g, d.get("output"), **keywords)[0]
                if d["returned"]:
                    if not isinstance(result, tuple | list) or len(result) != 1 + len(self.params):
                        raise ProtocolError("backward must return (dx, dW, db) as declared "
                                            "(grads=returned)")
                    result, *returned = result
                    found = dict(zip(self.params, returned, strict=True))
                elif d["learning_rate"]:
                    after = {k: np.array(d[k].get(self.inner) if k in d else
                                         self.inner.params[k]) for k in self.params}
                    found = {k: before[k] - after[k] for k in self.params}
                    self._put_weights()            # the step undone
                else:
                    found = {k: (d[f"grad_{k}"].get(self.inner) if f"grad_{k}" in d
                                 else self.inner.grads[k]) for k in self.params}
                for k, v in found.items():
                    grad = self._read_grad(k, v, grad_y.shape[0] if not per_image else 1)
                    grads[k] = grads[k] + grad if k in grads else grad
                results.append(result)
            self.grads = grads
            if results[0] is None:
                return None
            return self._back(results, d.get("input"), self.x.shape, "the input gradient")

    Declared.__name__ = Declared.__qualname__ = cls.__name__
    Declared.conventions = conventions(d)
    # The keyword arguments it takes are the declared ones: a configuration needing another
    # (a stride the class has no argument for) is reported as not supported by it.
    init = inspect.signature(scratchnet)
    Declared.__signature__ = init.replace(parameters=[
        p for p in init.parameters.values()
        if p.default is inspect.Parameter.empty or p.name in accepted])
    return Declared
