"""The PyTorch side: scratchnet's twin networks, the tools that compare the two, the
catalogue of classic mistakes those tools catch (``MISTAKES``), the kinds of layer they know
(``KINDS``, one module each in ``reference/kinds/``), and the check of anyone's
layer against PyTorch that names them (``check_layer``, ``check_network``)."""

from reference.agreement import agree, assert_agree, errors, tolerance
from reference.check import (
    LayerReport,
    NetworkReport,
    assert_layer_correct,
    check_layer,
    check_network,
)
from reference.compare import compare, format_comparison
from reference.kinds import KINDS
from reference.mistakes import MISTAKES
from reference.twin import (
    UntiedBiasConv2d,
    copy_from_torch,
    copy_to_torch,
    register_twin,
    to_torch,
    twin_function,
    twin_of_layer,
)

__all__ = [
    "KINDS",
    "MISTAKES",
    "LayerReport",
    "NetworkReport",
    "UntiedBiasConv2d",
    "agree",
    "assert_agree",
    "assert_layer_correct",
    "check_layer",
    "check_network",
    "compare",
    "copy_from_torch",
    "copy_to_torch",
    "errors",
    "format_comparison",
    "register_twin",
    "to_torch",
    "tolerance",
    "twin_function",
    "twin_of_layer",
]
