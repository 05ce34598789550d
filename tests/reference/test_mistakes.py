"""The catalogue of classic mistakes: the suite's checks catch every variant, where the
catalogue says, and pass the right implementations on the very same inputs.

Each kind's check gets the inputs below: the plainest one, and one per condition of
``CONDITIONS[kind]`` that changes only that (a second example, a stride, ties, large
logits, ...), plus a few more that the right classes must pass too. A mistake must fail
the check on the input its entry names (the plainest if none), with the quantity its entry
names first; a mistake that needs a condition must pass on the plainest input, which shows
that the suite catches it only because it draws that input. Tolerances are the project's
one rule (reference/agreement.py, float64: 1e-12): a right implementation agrees to about
1e-15, and every variant is off by far more than 1e-12.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from reference import MISTAKES, compare, format_comparison, twin_function
from reference.agreement import agree
from reference.check.run import reference_run, run_layer
from reference.kinds import KINDS as KINDS_BY_NAME
from reference.kinds import Configuration, batchnorm, layernorm
from reference.mistakes import (
    CATALOGUES,
    CONDITIONS,
    KINDS,
    PLAIN,
    Catalogue,
    Mistake,
    markdown,
    of_kind,
    substitute,
)
from scratchnet import Conv2D, Dense, MaxPool2D, ReLU, SoftmaxCrossEntropy, seed_network
from scratchnet.layers import Layer
from scratchnet.optim import SGD, Adam, RMSprop, clip_grad_norm
from tests.strategies import ConvCase, PoolCase, random_input
from tests.torch_check import (
    clip_and_torch,
    disagreeing,
    layer_and_torch,
    loss_and_torch,
    optimizer_and_torch,
)

PLAINEST = "the plainest input"
rng = np.random.default_rng(5)   # not 0: layer_and_torch draws the upstream gradient so

# Per kind: case name -> what the check gets (its conditions' names from CONDITIONS).
INPUTS = {
    "conv2d": {
        PLAINEST: ConvCase(1, 2, 2, 3, 1, 0, 6, 6, "tied"),
        "batch > 1": ConvCase(4, 2, 2, 3, 1, 0, 6, 6, "tied"),
        "stride > 1": ConvCase(1, 2, 2, 3, 2, 0, 8, 7, "tied"),    # 8: a row left over
        "padding > 0": ConvCase(1, 2, 2, 3, 1, 1, 6, 6, "tied"),
        "untied bias": ConvCase(1, 2, 2, 3, 1, 0, 6, 6, "untied"),
        "non-square input": ConvCase(1, 2, 2, 3, 1, 0, 7, 5, "tied"),
        "sizes the stride does not divide": ConvCase(1, 2, 2, 3, 2, 0, 8, 8, "tied"),
        "stride > 1 with padding > 0": ConvCase(1, 2, 2, 3, 2, 1, 7, 7, "tied"),  # 9 - 3: even
        "wider than high": ConvCase(2, 2, 3, 3, 1, 0, 5, 8, "tied"),
        "the seed's conv2": ConvCase(3, 4, 8, 5, 1, 0, 12, 12, "untied"),
        "all at once": ConvCase(3, 3, 2, 4, 3, 2, 9, 6, "untied"),
        "no bias, kernel = input": ConvCase(2, 1, 3, 5, 1, 0, 5, 5, None),
    },
    "maxpool2d": {
        PLAINEST: PoolCase(2, 2, (1, 2, 4, 4), ties=False),
        "ties": PoolCase(2, 2, (1, 2, 4, 4), ties=True),
        "overlapping windows": PoolCase(3, 1, (1, 2, 5, 5), ties=False),
        "odd size": PoolCase(2, 2, (1, 2, 7, 9), ties=False),
        "non-square input": PoolCase(2, 2, (1, 2, 4, 6), ties=False),
        "higher than wide": PoolCase(2, 2, (2, 1, 8, 4), ties=False),
        "the seed's pool1 on zero backgrounds": PoolCase(2, 2, (3, 4, 12, 12), ties=True),
        "overlapping ties": PoolCase(3, 2, (2, 3, 7, 8), ties=True),
        "stride beyond the window": PoolCase(2, 3, (2, 1, 11, 10), ties=False),
    },
    "dense": {   # (batch, in_features, out_features)
        PLAINEST: (1, 4, 4), "batch > 1": (5, 4, 4), "not square": (3, 7, 2),
        "the seed's fc2": (4, 128, 10),
    },
    "relu": {
        PLAINEST: rng.standard_normal((3, 5)),
        "exact zeros": np.array([[0.0, -0.0, 1.5, -2.0, 0.0], [0.3, 0.0, -0.7, 0.0, 2.0]]),
        "4-D": rng.standard_normal((2, 3, 4, 5)),
    },
    "softmax-ce": {   # (logits, labels)
        PLAINEST: (rng.standard_normal((1, 5)), np.array([2])),
        "batch > 1": (rng.standard_normal((6, 5)), np.array([0, 4, 2, 2, 1, 3])),
        "large logits": (np.eye(5)[:3] * 2e3 - 1e3, np.array([1, 2, 0])),   # sure and wrong
        "equal logits": (np.full((4, 5), 7.5), np.array([0, 4, 3, 3])),
    },
    "sgd": {   # keyword arguments of SGD and of torch.optim.SGD
        PLAINEST: {"lr": 0.1},
        "momentum": {"lr": 0.1, "momentum": 0.9},
        "momentum and weight decay": {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.05},
        "dampening": {"lr": 0.1, "momentum": 0.9, "dampening": 0.3},
        "weight decay": {"lr": 0.1, "weight_decay": 0.05},
        "nesterov": {"lr": 0.1, "momentum": 0.9, "nesterov": True},
    },
    "adam": {
        PLAINEST: {"lr": 0.01},
        "weight decay": {"lr": 0.01, "weight_decay": 0.05},
        "small betas": {"lr": 0.1, "betas": (0.3, 0.5), "eps": 1e-3},
    },
    "rmsprop": {
        PLAINEST: {"lr": 0.01},
        "momentum": {"lr": 0.01, "momentum": 0.9},
        "centered": {"lr": 0.01, "centered": True, "weight_decay": 0.05},
    },
    "clip": {   # max_norm; the seed network's random gradients have a norm of about 147
        PLAINEST: 5.0, "norm below max_norm": 1e4,
    },
    # The norm kinds: configurations of their check (reference/kinds/), run by its procedure.
    "batchnorm1d": {
        PLAINEST: batchnorm.configuration(PLAINEST, (4, 3)),
        "batch of two": batchnorm.configuration("batch of two", (2, 3)),
        "(N, C, L) input": batchnorm.configuration("(N, C, L)", (3, 2, 5)),
        "a large mean with a tiny variance": batchnorm.configuration("large", (8, 3),
                                                                      batchnorm.LARGE_MEAN),
        "momentum 0.3": batchnorm.configuration("momentum", (5, 2), momentum=0.3),
    },
    "batchnorm2d": {
        PLAINEST: batchnorm.configuration(PLAINEST, (2, 3, 2, 3)),
        "one example": batchnorm.configuration("one example", (1, 2, 3, 3)),
        "a large mean with a tiny variance": batchnorm.configuration("large", (2, 2, 2, 4),
                                                                      batchnorm.LARGE_MEAN),
    },
    "layernorm": {
        PLAINEST: layernorm.configuration(PLAINEST, (3, 5), 5),
        "a large mean with a tiny variance": layernorm.configuration(
            "large", (3, 8), 8, layernorm.LARGE_MEAN),
        "more than one normalised axis": layernorm.configuration("(C, H, W)", (2, 3, 2, 2),
                                                                 (3, 2, 2)),
        "(N, L, D) input": layernorm.configuration("(N, L, D)", (2, 3, 4), 4),
    },
}

SCRATCHNET = {"conv2d": Conv2D, "maxpool2d": MaxPool2D, "dense": Dense, "relu": ReLU,
              "softmax-ce": SoftmaxCrossEntropy, "sgd": SGD, "adam": Adam, "rmsprop": RMSprop,
              "clip": clip_grad_norm} | {k: KINDS_BY_NAME[k].scratchnet
                                         for k in ("batchnorm1d", "batchnorm2d", "layernorm")}
TORCH_OPTIMIZER = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam,
                   "rmsprop": torch.optim.RMSprop}


def scratchnet_layer(kind: str, case) -> tuple[Layer, np.ndarray]:
    """scratchnet's layer for a case of ``INPUTS[kind]`` (weights seeded), and its input."""
    draw = np.random.default_rng(1)
    if kind == "conv2d":
        layer = Conv2D(case.in_channels, case.out_channels, case.kernel, case.stride,
                       case.padding, bias=case.bias, input_shape=case.input_shape[1:],
                       rng=draw)
        return layer, random_input(draw, case.input_shape, np.float64)
    if kind == "maxpool2d":
        return MaxPool2D(case.kernel, case.stride), random_input(
            draw, case.shape, np.float64, ties=case.ties)
    if kind == "dense":
        batch, n_in, n_out = case
        return Dense(n_in, n_out, rng=draw), random_input(draw, (batch, n_in), np.float64)
    return ReLU(), case


def seed_gradients() -> dict[str, np.ndarray]:
    """Random gradients shaped as the seed network's parameters."""
    draw = np.random.default_rng(2)
    return {k: draw.standard_normal(v.shape) for k, v in seed_network("full").named_params()
            .items()}


def disagreements(kind: str, case_name: str, implementation) -> list[str]:
    """The quantities in which ``implementation`` of ``kind`` (a class, or for ``clip`` a
    function, used as scratchnet's) disagrees with PyTorch on ``INPUTS[kind][case_name]``."""
    case = INPUTS[kind][case_name]
    if isinstance(case, Configuration):
        return checked_disagreements(kind, case, implementation)
    if kind in TORCH_OPTIMIZER:
        pairs = optimizer_and_torch(lambda net: implementation(net, **case),
                                    lambda params: TORCH_OPTIMIZER[kind](params, **case),
                                    seed_network("full", seed=3))
    elif kind == "clip":
        pairs = clip_and_torch(implementation, seed_gradients(), case)
    elif kind == "softmax-ce":
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            try:
                pairs = loss_and_torch(implementation(), *case)
            except Exception:
                return [raised_at(implementation(), case)]
    else:
        layer, x = scratchnet_layer(kind, case)
        try:
            pairs = layer_and_torch(substitute(layer, implementation), x, twin_function(layer))
        except Exception:
            return [raised_at(substitute(layer, implementation), (x,))]
    return disagreeing(pairs, np.float64)


def checked_disagreements(kind: str, config: Configuration, implementation) -> list[str]:
    """The quantities of ``kind``'s check (its procedure: for batch norm, training steps
    then eval mode) in which ``implementation`` disagrees with PyTorch on ``config``, or
    does not give them."""
    data, reference = reference_run(kind, config, np.random.default_rng(7))
    run = run_layer(implementation(*config.args, **config.options), kind, data,
                    list(reference), config.contiguous)
    return [q for q, value in reference.items()
            if q not in run.values or np.shape(run.values[q]) != np.shape(value)
            or not agree(run.values[q], value, np.float64)]


def raised_at(implementation, forward_args: tuple) -> str:
    """The first quantity a layer or loss that raises (as real code does: a float size, an
    assert, a slice narrower than the kernel) does not give: its output (the loss) when
    ``forward`` raises, else the gradient ``backward`` returns."""
    try:
        implementation.forward(*forward_args)
    except Exception:
        return "loss" if isinstance(implementation, SoftmaxCrossEntropy) else "output"
    return "grad logits" if isinstance(implementation, SoftmaxCrossEntropy) else "grad input"


# ---- the catalogue --------------------------------------------------------------------

ISSUE_IDS = [
    "conv-kernel-flipped-forward", "conv-kernel-not-flipped-input-grad",
    "conv-bias-grad-not-summed", "conv-bias-grad-averaged", "conv-weight-grad-swapped",
    "conv-stride-ignored-input-grad", "conv-padding-ignored-input-grad",
    "conv-untied-bias-as-tied", "pool-grad-to-all-ties", "pool-grad-to-last-max",
    "pool-overlap-overwrites", "pool-odd-size-off-by-one", "dense-weight-grad-transposed",
    "dense-bias-grad-first-example", "dense-input-grad-untransposed", "relu-grad-one-at-zero",
    "relu-grad-from-output-sign", "ce-missing-minus", "ce-grad-not-averaged",
    "softmax-wrong-axis", "softmax-no-max-shift", "sgd-momentum-after-step",
    "sgd-weight-decay-after-momentum", "adam-no-bias-correction", "clip-per-tensor",
]


def test_the_catalogue_holds_the_issues_ids_and_more() -> None:
    assert set(ISSUE_IDS) <= set(MISTAKES)
    assert len(MISTAKES) >= 25
    assert [m.kind for m in MISTAKES.values()] == sorted(
        (m.kind for m in MISTAKES.values()), key=KINDS.index)
    for mistake_id, mistake in MISTAKES.items():
        assert mistake.id == mistake_id
        assert mistake in of_kind(mistake.kind)
    for kind in KINDS:   # every kind has mistakes, and an input for every condition
        assert of_kind(kind), kind
        assert set(CONDITIONS[kind]) <= set(INPUTS[kind]), kind
    with pytest.raises(ValueError, match="kind must be one of"):
        of_kind("conv3d")


@pytest.mark.parametrize("field, value, message", [
    ("id", "Conv_Bad", "kebab-case"),
    ("kind", "conv3d", "it is in the conv2d catalogue, but its kind is 'conv3d'"),
    ("shows_on", "ties", "shows_on must be one of"),
    ("quantity", "grad kernel", "quantity must be one of"),
    ("equation", "eq. 4", "equation must look like"),
])
def test_an_entry_says_what_is_wrong_with_it(field: str, value: str, message: str) -> None:
    """An entry is checked when it is made (its id and equation) and when its kind's
    catalogue takes it (its kind, conditions and quantity are the catalogue's words)."""
    fields = {"id": "conv-x", "kind": "conv2d", "sentence": "s", "equation": "(4)",
              "variant": Conv2D, "quantity": "grad input"} | {field: value}
    conv = CATALOGUES[0]
    with pytest.raises(ValueError, match=message):
        Catalogue(conv.kind, conv.plain, conv.check, conv.shows_on, conv.quantities,
                  (Mistake(**fields),))


# ---- every mistake is caught, where the catalogue says --------------------------------

@pytest.mark.parametrize("mistake", MISTAKES.values(), ids=MISTAKES.keys())
def test_the_check_catches_the_mistake(mistake: Mistake) -> None:
    wrong = disagreements(mistake.kind, mistake.shows_on or PLAINEST, mistake.variant)
    assert wrong, f"{mistake.id} passes the {mistake.kind} check"
    assert wrong[0] == mistake.quantity, f"{mistake.id}: first wrong is {wrong[0]!r}"
    if mistake.shows_on is not None:
        assert disagreements(mistake.kind, PLAINEST, mistake.variant) == [], (
            f"{mistake.id} shows without {mistake.shows_on!r}")


IMPLEMENTATIONS = [
    pytest.param(kind, name, impl, id=f"{kind}-{origin}-{name}")
    for kind, cases in INPUTS.items()
    for origin, impl in (("scratchnet", SCRATCHNET[kind]), ("plain", PLAIN.get(kind)))
    if impl is not None
    for name in cases
]


@pytest.mark.parametrize("kind, name, implementation", IMPLEMENTATIONS)
def test_the_right_implementations_pass_the_same_checks(kind: str, name: str,
                                                        implementation) -> None:
    assert disagreements(kind, name, implementation) == []


# ---- in the seed network, compare names the layer and the quantity ---------------------

def digit_batch(n: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Digit-like images: exact zeros with strokes, so pooling windows hold ties."""
    draw = np.random.default_rng(4)
    x = np.where(draw.random((n, 1, 28, 28)) < 0.2, draw.random((n, 1, 28, 28)), 0.0)
    return x, draw.integers(0, 10, n)


IN_NETWORK = [m for m in MISTAKES.values() if m.in_network is not None]


@pytest.mark.parametrize("mistake", IN_NETWORK, ids=[m.id for m in IN_NETWORK])
def test_compare_names_the_layer_and_quantity(mistake: Mistake) -> None:
    net = seed_network("full", seed=0)
    right = net.layers[mistake.in_network]
    net.layers[mistake.in_network] = substitute(right, mistake.variant)
    df = compare(net, *digit_batch())
    assert df.attrs["first_divergence"] == f"{mistake.in_network} {mistake.quantity}", (
        format_comparison(df))


@pytest.mark.parametrize("kind", ["conv2d", "maxpool2d", "dense", "relu"])
def test_plain_layers_in_the_seed_network_agree(kind: str) -> None:
    """Every layer of the kind replaced by the plain one: the same weights, no divergence."""
    net = seed_network("full", seed=0)
    for name, layer in list(net.layers.items()):
        if type(layer) is SCRATCHNET[kind]:
            net.layers[name] = plain = substitute(layer, PLAIN[kind])
            assert plain.params is layer.params and plain.name == name
    df = compare(net, *digit_batch())
    assert df.attrs["first_divergence"] is None, format_comparison(df)


def test_the_page_for_people_is_current() -> None:
    page = Path(__file__).parents[2] / "reference" / "MISTAKES.md"
    assert page.read_text() == markdown(), (
        "reference/MISTAKES.md is stale: .venv/bin/python -m reference.mistakes > "
        "reference/MISTAKES.md")
