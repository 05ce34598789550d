"""Training passes in chunks (scratchnet.chunks): a large batch through a network of
per-example layers runs ``TRAIN_CHUNK`` images at a time, with the numbers of one pass."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from scratchnet import (
    AvgPool2D,
    Conv2D,
    Dense,
    Flatten,
    LeakyReLU,
    ReLU,
    Sequential,
    Sigmoid,
    SoftmaxCrossEntropy,
    Tanh,
    seed_network,
)
from scratchnet import chunks as chunks_module
from scratchnet.chunks import CHUNKS_ABOVE, TRAIN_CHUNK, Chunks, chunk_slices
from scratchnet.layers import ShapeError
from tests.synthetic_data import digits
from tests.test_network import CountingReLU, bn_dropout_network, torch_bn_dropout_network
from tests.torch_check import assert_network_matches_twin, check


def chunked(net: Sequential) -> bool:
    """Whether ``net``'s last forward ran in chunks."""
    return net._chunks.ran


def test_chunks_are_equal_and_at_most_train_chunk() -> None:
    assert chunk_slices(CHUNKS_ABOVE + 1) == [slice(0, 80), slice(80, 161)]
    for n in range(1, 5 * TRAIN_CHUNK):
        parts = chunk_slices(n)
        sizes = np.array([part.stop - part.start for part in parts])
        assert parts[0].start == 0 and parts[-1].stop == n, n
        assert all(a.stop == b.start for a, b in itertools.pairwise(parts)), n
        assert sizes.max() <= TRAIN_CHUNK and sizes.max() - sizes.min() <= 1, n
        assert len(sizes) == -(-n // TRAIN_CHUNK), n         # as few chunks as fit


@pytest.mark.parametrize("batch", [CHUNKS_ABOVE - 1, CHUNKS_ABOVE, CHUNKS_ABOVE + 1, 200, 257])
@pytest.mark.parametrize("bias", ["untied", "tied", None])
def test_chunked_seed_network_matches_twin(batch: int, bias) -> None:
    """Below, at and above the threshold, batches that are no multiple of the chunk
    (chunks of 80 and 81, 100, 85 and 86): float64 rule (1e-12 scaled)."""
    rng = np.random.default_rng(batch)
    net = seed_network("full", bias=bias, seed=batch)
    x = digits(rng, batch, np.float64)
    assert_network_matches_twin(net, x, need_input_grad=True, seed=batch)
    assert chunked(net) == (batch > CHUNKS_ABOVE)
    assert_network_matches_twin(net, x, need_input_grad=False, seed=batch + 1)


def test_non_contiguous_input_and_float32() -> None:
    """Every other image of a batch of 500 (a strided view), in float32 (rule 1e-5)."""
    rng = np.random.default_rng(7)
    x = digits(rng, 500, np.float32)[::2]
    assert not x.flags.c_contiguous
    net = seed_network("full", dtype=np.float32, seed=7)
    assert_network_matches_twin(net, x, need_input_grad=True)
    assert chunked(net)


def test_every_per_example_kind_in_chunks_matches_twin() -> None:
    """AvgPool2D and the element-wise activations, a strided padded convolution without
    bias and a network not starting with a convolution (its input gradient is returned
    even with need_input_grad=False, as in one pass)."""
    rng = np.random.default_rng(3)
    net = Sequential(Conv2D(2, 3, 3, padding=1, rng=rng), Tanh(), AvgPool2D(2),
                     LeakyReLU(0.1), Conv2D(3, 4, 2, stride=2, bias=None, rng=rng), Sigmoid(),
                     Flatten(), Dense(16, 5, rng=rng), ReLU())
    x = rng.standard_normal((CHUNKS_ABOVE + 37, 2, 8, 8)) * 3
    assert_network_matches_twin(net, x)
    assert chunked(net)
    tail = Sequential(Flatten(), Dense(12, 4, rng=rng), Sigmoid())
    x = rng.standard_normal((CHUNKS_ABOVE + 9, 3, 2, 2))
    assert_network_matches_twin(tail, x, need_input_grad=False)
    assert chunked(tail)


def test_a_network_with_batch_norm_and_dropout_runs_as_one_pass() -> None:
    """Batch norm's statistics and dropout's mask are the whole batch's: not chunked, and
    still the twin's numbers (the twin applies the mask scratchnet drew)."""
    net = bn_dropout_network()
    x = np.random.default_rng(5).standard_normal((CHUNKS_ABOVE + 72, 1, 8, 8))
    assert not Chunks.takes(net.run_order, x)
    assert_network_matches_twin(net, x, twin=torch_bn_dropout_network(net))
    assert not chunked(net)


def test_a_foreign_layer_runs_as_one_pass() -> None:
    """Anyone's layer may couple the examples: a network with one runs as one pass."""
    net = seed_network("full", seed=2)
    counting = CountingReLU()
    net.layers["relu3"] = counting
    x = digits(np.random.default_rng(2), 200, np.float64)
    assert_network_matches_twin(net, x)
    assert not chunked(net)
    assert counting.calls == ["forward", "backward"]       # once each, on the whole batch


def test_chunked_gradients_equal_one_pass_to_rounding(monkeypatch) -> None:
    """A chunked step and one pass over the whole batch: the same logits and input
    gradient, and parameter gradients summed in another order (per chunk, then over the
    chunks), so they differ by float64 rounding only: the float64 rule (1e-12 scaled)
    allows that, and no more (a dropped or doubled chunk is off by 1e-1 or so)."""
    rng = np.random.default_rng(11)
    x = digits(rng, 2 * TRAIN_CHUNK + 45, np.float64)
    grad = rng.standard_normal((len(x), 10))
    results = []
    for above in (CHUNKS_ABOVE, 10**9):
        monkeypatch.setattr(chunks_module, "CHUNKS_ABOVE", above)
        net = seed_network("full", seed=11)
        logits = net.forward(x)
        grad_x = net.backward(grad)
        results.append((chunked(net), logits, grad_x, net.named_grads()))
    (was, logits, grad_x, grads), (was_not, logits1, grad_x1, grads1) = results
    assert was and not was_not
    check(logits, logits1, np.float64, "logits")
    check(grad_x, grad_x1, np.float64, "input gradient")
    for key, g in grads.items():
        check(g, grads1[key], np.float64, key)


def test_errors_name_the_batch_not_a_chunk() -> None:
    batch = CHUNKS_ABOVE + 1
    x = digits(np.random.default_rng(0), batch, np.float64)
    with pytest.raises(ShapeError, match=r"^identity1 \(Identity\): backward called before"):
        seed_network("full").backward(np.zeros((batch, 10)))
    net = seed_network("full")
    with pytest.raises(ShapeError, match=rf"^conv1 \(Conv2D\): expected input of shape "
                                         rf"\(N, 1, 28, 28\), got \({batch}, 1, 32, 32\)$"):
        net.forward(np.zeros((batch, 1, 32, 32)))
    with pytest.raises(ShapeError, match=r"^conv1 \(Conv2D\): expected float64 input"):
        net.forward(x.astype(np.float32))
    net.forward(x)
    assert chunked(net)
    with pytest.raises(ShapeError, match=rf"^identity1 \(Identity\): expected grad_y of shape "
                                         rf"\({batch}, 10\) \(the last forward's output\), "
                                         rf"got \({batch - 1}, 10\)$"):
        net.backward(np.zeros((batch - 1, 10)))
    with pytest.raises(ShapeError, match=r"^identity1 \(Identity\): expected float64 grad_y "
                                         r"like the output, got float32$"):
        net.backward(np.zeros((batch, 10), np.float32))
    with pytest.raises(ShapeError, match=r"expected grad_y as a NumPy array, got list"):
        net.backward([[0.0] * 10] * batch)
    net.forward(x[:5])                                    # one pass again: its own checks
    with pytest.raises(ShapeError, match=r"expected grad_y of shape \(5, 10\)"):
        net.backward(np.zeros((batch, 10)))


def test_a_layer_backward_after_a_chunked_forward_says_it_ran_in_chunks() -> None:
    """The chunks' copies ran, not the layers: what a layer's own last forward kept is out
    of date, and its own backward says why instead of using it (Layer.ran_elsewhere)."""
    net = seed_network("full", seed=2)
    rng = np.random.default_rng(2)
    small, large = digits(rng, 3, np.float64), digits(rng, CHUNKS_ABOVE + 1, np.float64)
    net.forward(small)                                   # each layer keeps a batch of 3
    net.forward(large)
    assert chunked(net)
    message = (r"backward cannot follow: the last forward ran inside a network, in chunks of "
               rf"at most {TRAIN_CHUNK} examples; call the network's backward, or this "
               r"layer's own forward first$")
    with pytest.raises(ShapeError, match=r"^fc2 \(Dense\): " + message):
        net.layers["fc2"].backward(np.zeros((len(large), 10)))
    with pytest.raises(ShapeError, match=r"^conv2 \(Conv2D\): " + message):
        net.layers["conv2"].backward(np.zeros((3, 8, 8, 8)))      # the stale batch's shape
    fc2 = net.layers["fc2"]                              # its own forward: its own backward
    h = rng.standard_normal((4, 128))
    np.testing.assert_array_equal(fc2.backward(fc2.forward(h)),
                                  fc2.forward(h) @ fc2.params["weight"])
    net.forward(small)                                   # one pass: the layers ran again
    assert net.layers["conv2"].backward(np.zeros((3, 8, 8, 8))).shape == (3, 4, 12, 12)


def test_a_layer_replaced_in_net_layers_runs_in_the_chunks() -> None:
    net = seed_network("full", seed=4)
    x = digits(np.random.default_rng(4), 300, np.float64)
    loss = SoftmaxCrossEntropy()
    loss.forward(net.forward(x), np.zeros(len(x), int))
    net.backward(loss.backward())
    net.layers["fc2"] = Dense(128, 10, rng=np.random.default_rng(5))
    assert_network_matches_twin(net, x)                     # the twin has the new fc2's weights
    assert chunked(net)


def test_chunks_keep_their_workspaces_between_steps() -> None:
    """Each chunk's convolutions keep their scratch arrays: allocating them afresh at every
    step costs page faults (kernels.Workspace)."""
    net = seed_network("full", dtype=np.float32)
    x = digits(np.random.default_rng(6), 3 * TRAIN_CHUNK, np.float32)

    grad = np.random.default_rng(7).standard_normal((len(x), 10)).astype(np.float32)

    def step() -> list[int]:
        net.backward(grad, need_input_grad=False)
        return [id(a) for row in net._chunks._own for own in row
                for ws in own.values() if hasattr(ws, "_arrays") for a in ws._arrays.values()]

    net.forward(x)
    first = step()
    net.forward(x)
    assert len(first) > 3 and step() == first
