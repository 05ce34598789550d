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

``check_network(net, x, labels)`` does the same for a whole ``Sequential``: ``compare``, and
the diagnosis for the first layer that parts from PyTorch.

By idea: ``battery.py`` the configurations (each kind's, from ``reference/kinds/``) and their
data, ``run.py`` running PyTorch and
an implementation in one, ``diagnosis.py`` naming the mistake and the configurations it is
made in, ``report.py`` the table and the verdict, ``layer.py`` and
``network.py`` the two checks.
"""

from reference.check.battery import RANDOM_CONFIGURATIONS
from reference.check.layer import assert_layer_correct, check_layer, protocol_problem
from reference.check.network import NetworkReport, check_network
from reference.check.report import LayerReport
from reference.kinds import CHECKED_KINDS

__all__ = ["CHECKED_KINDS", "RANDOM_CONFIGURATIONS", "LayerReport", "NetworkReport",
           "assert_layer_correct", "check_layer", "check_network", "protocol_problem"]
