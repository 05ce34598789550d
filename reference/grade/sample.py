"""A generated class of submissions, for the tests and the benchmark: right
implementations, the catalogue's mistakes, crashing ones and hostile ones.

A right or faulty implementation is a class deriving from the catalogue's plain one
(``reference.mistakes.PLAIN``) or from a mistake's variant (``MISTAKES[id].variant``),
declared in the submission's file with its ``kind``, as a student's file would declare
its layer. The hostile submissions each do one thing the grader must survive; each
module's text models a pattern of real attacks on autograders (named in its comment).
"""

from __future__ import annotations

import random
from pathlib import Path

from reference.mistakes import MISTAKES, PLAIN

CLASS_NAMES = {"conv2d": "Conv2D", "maxpool2d": "MaxPool2D", "dense": "Dense",
               "relu": "ReLU", "softmax-ce": "SoftmaxCrossEntropy"}


def implementation(kind: str, mistake: str | None = None) -> str:
    """The source of a class of ``kind``: the plain right one, or ``mistake``'s variant."""
    cls = PLAIN[kind] if mistake is None else MISTAKES[mistake].variant
    return (f"from {cls.__module__} import {cls.__name__} as _Base\n\n\n"
            f"class {CLASS_NAMES[kind]}(_Base):\n    kind = {kind!r}\n")


#: Hostile submissions: name -> the module's text. ``{results}`` is the results folder.
HOSTILE = {
    # an infinite loop in the forward pass (the commonest autograder timeout)
    "loops": implementation("relu") + "\n    def forward(self, x):\n        while True:\n"
                                      "            pass\n",
    # a huge allocation (an attempt to exhaust the grader's memory)
    "allocates": implementation("relu") + "\n    def forward(self, x):\n"
                                          "        hoard = bytearray(50 * 2**30)\n"
                                          "        return x * len(hoard)\n",
    # leaving the interpreter at import, skipping every handler
    "exits": "import os\n\nos._exit(3)\n",
    # killing the process group of whoever started it (the grader, it hopes)
    "kills": "import os\n\nos.killpg(os.getpgid(os.getppid()), 9)\n\n"
             + implementation("relu"),
    # a fork bomb
    "forks": "import os\n\nwhile True:\n    os.fork()\n",
    # printing a result file in the hope that the grader reads stdout
    "prints": 'print(\'{"score": 100, "tests": [{"name": "relu", "score": 2, '
              '"max_score": 2}]}\')\n\n'
              + implementation("relu", "relu-grad-one-at-zero"),
    # writing into the results folder (overwriting the class's grades)
    "writes": "from pathlib import Path\n\nfor name in ('grades.csv', 'index.html', "
              "'submissions/right/results.json'):\n    try:\n"
              "        path = Path({results!r}) / name\n"
              "        path.parent.mkdir(parents=True, exist_ok=True)\n"
              "        path.write_text('hacked')\n    except OSError:\n        pass\n\n"
              + implementation("relu"),
    # monkeypatching the checker, NumPy and PyTorch to agree with anything
    "patches": "import numpy as np\nimport torch\nimport reference.agreement\n"
               "import reference.grade.child as child\n\n"
               "reference.agreement.agree = lambda *a, **k: True\n"
               "np.allclose = lambda *a, **k: True\n"
               "torch.allclose = lambda *a, **k: True\n"
               "child.run_battery = lambda build, kind, prepared: [\n"
               "    type('R', (), {})() for _ in prepared.configs]\n\n"
               + implementation("relu", "relu-grad-one-at-zero"),
}


def write_submission(folder: Path, implementations: dict[str, str | None]) -> None:
    """A submission folder with one file holding ``kind -> mistake`` (None: right)."""
    folder.mkdir(parents=True, exist_ok=True)
    text = "\n\n".join(implementation(kind, mistake).replace(
        "_Base", f"_Base{i}") for i, (kind, mistake) in enumerate(implementations.items()))
    (folder / "layers.py").write_text(text)


def write_class(folder: Path, n: int, kinds: tuple[str, ...] = tuple(CLASS_NAMES),
                wrong: float = 0.5, seed: int = 0) -> dict[str, dict[str, str | None]]:
    """``n`` submissions of every kind of ``kinds``, each implementation wrong with
    probability ``wrong`` (a catalogued mistake of its kind, drawn at random); returns
    what each submission holds."""
    rng = random.Random(seed)
    made = {}
    for i in range(n):
        held = {}
        for kind in kinds:
            mistakes = [m.id for m in MISTAKES.values() if m.kind == kind]
            held[kind] = rng.choice(mistakes) if mistakes and rng.random() < wrong else None
        write_submission(folder / f"student{i:03d}", held)
        made[f"student{i:03d}"] = held
    return made


def write_hostile(folder: Path, results: Path) -> None:
    """One submission per ``HOSTILE`` entry (a single ``.py`` file each)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in HOSTILE.items():
        (folder / f"{name}.py").write_text(text.replace("{results!r}", repr(str(results))))
