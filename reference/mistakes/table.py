"""The catalogue as a Markdown page for people (``reference/MISTAKES.md`` is its output)."""

from __future__ import annotations

from collections.abc import Sequence

from reference.mistakes.entry import Catalogue, Mistake

INTRO = """\
# The mistakes the suite catches

Each row is a classic mistake in writing these layers, the loss or the optimizers by hand,
from `reference.MISTAKES` (the code is in `reference/mistakes/`). Its faulty variant is a
plain NumPy implementation of that kind with the one method changed that makes the mistake,
computing what real code making it computes (the same numbers, `inf` where it gives `inf`,
the same exception where it raises: each variant's comment names the pattern it models);
`tests/reference/test_mistakes.py` runs the suite's comparison with PyTorch on every variant
and checks every row of this table: the check fails on the input named, on the quantity
named first, while the same check passes for scratchnet's class and for the plain
implementation without the mistake.

* **layer check**: `tests/torch_check.py`: the layer and its PyTorch twin, forward on one
  input and backward on one random upstream gradient; output, input gradient and every
  parameter gradient compared under `reference/agreement.py` (float64: 1e-12).
* **loss check**: loss and gradient against `torch.nn.functional.cross_entropy`.
* **optimizer check**: three steps on the seed network's (flat) parameters with random
  gradients, against `torch.optim` on its twin; the parameters after each step. (The
  kind's own check, `check_layer(cls, "sgd")`, steps 50 times in each configuration of its
  battery and compares the parameters after steps 1, 2, 10 and 50.)
* **clipping check**: the clipped gradients and the norm against
  `torch.nn.utils.clip_grad_norm_`.

*Shows on*: "any input" means the plainest input of its kind already fails (one example,
a square input, 3x3 kernel, stride 1, no padding, tied bias, no ties, ordinary logits,
plain SGD, Adam or RMSprop); otherwise the plainest input passes and the input named
fails. A variant that raises, as real code does, fails from the quantity it cannot give
(its output when its forward pass raises). *Seed network*: the first divergence `reference.compare`
reports when that layer of `seed_network("full")` (untied bias, float64, a batch of 4
digit-like images) is replaced by the variant with the same weights; "-" for the loss and
the optimizers, which are not layers of the network, where the seed network cannot show
the mistake (its inputs are square, its convolutions and pools have no stride, padding,
odd size or overlap, its convolutions are not square, and no ReLU input is exactly 0), and
where the variant stops the network's run (it raises, or returns an empty gradient).

Regenerate with `.venv/bin/python -m reference.mistakes > reference/MISTAKES.md`.
"""


def row(m: Mistake, check: str) -> str:
    shows_on = "any input" if m.shows_on is None else f"only with {m.shows_on}"
    network = f"`{m.in_network} {m.quantity}`" if m.in_network else "-"
    cells = [f"`{m.id}`", m.kind, m.sentence, m.equation or "-",
             f"{check}: {m.quantity}", shows_on, network]
    return "| " + " | ".join(cells) + " |"


def document(catalogues: Sequence[Catalogue]) -> str:
    """The page: ``INTRO`` and one table row per mistake, in the catalogue's order."""
    header = ("| id | kind | the mistake | seed eq. | caught by | shows on | seed network |\n"
              "| --- | --- | --- | --- | --- | --- | --- |")
    rows = [row(m, c.check) for c in catalogues for m in c.mistakes]
    return f"{INTRO}\n{header}\n" + "\n".join(rows) + f"\n\n{len(rows)} mistakes.\n"
