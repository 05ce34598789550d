"""Check anyone's layer against PyTorch, and name the mistake when it is wrong.

``check_layer(cls, kind)`` builds ``cls`` (any class following the layer protocol,
``scratchnet.layers.base.LayerProtocol``) in every configuration of the kind's battery
(``battery.py``), gives it random float64 weights, input and upstream gradient, and
compares its output, input gradient and every parameter gradient with PyTorch's under the
project's one rule (``reference.agreement``), and its gradients, independently, with
central finite differences of its own forward pass. When something disagrees, the
catalogue's mistakes of that kind run on the same arrays and those reproducing the numbers
are named (``diagnosis.py``)::

    report = check_layer(MyConv2D, "conv2d")
    print(report)            # verdict and diagnosis; report.table has every row
    assert_layer_correct(MyConv2D, "conv2d")    # for a course's tests

Anyone's code comes in the styles people write it in (``styles/``): a class following the
protocol, CS231n's function pairs found by their names, or a class of its own making
checked through a declaration (``declare``); ``discover(load(path))`` finds every
implementation in a file and ``check_implementation`` checks one. The check is two steps:
``run_battery`` runs the user's code and returns data, ``judge`` compares, diagnoses and
reports, so that a grader can keep the second apart from the first.

``check_network(net, x, labels)`` does the same for a whole ``Sequential``: ``compare``, and
the diagnosis for the first layer that parts from PyTorch.

By idea: ``battery.py`` the configurations (each kind's, from ``reference/kinds/``) and their
data, ``run.py`` running PyTorch and
an implementation in one, ``diagnosis.py`` naming the mistake and the configurations it is
made in, ``report.py`` the table and the verdict, ``layer.py`` and
``network.py`` the two checks.
"""

from reference.check.battery import RANDOM_CONFIGURATIONS
from reference.check.layer import (
    assert_layer_correct,
    check_implementation,
    check_layer,
    judge,
    protocol_problem,
    run_battery,
)
from reference.check.network import NetworkReport, check_network
from reference.check.report import LayerReport
from reference.check.styles import Implementation, declare, discover, load
from reference.kinds import CHECKED_KINDS

__all__ = ["CHECKED_KINDS", "RANDOM_CONFIGURATIONS", "Implementation", "LayerReport",
           "NetworkReport", "assert_layer_correct", "check_implementation", "check_layer",
           "check_network", "declare", "discover", "judge", "load", "protocol_problem",
           "run_battery"]
