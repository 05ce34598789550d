"""The PyTorch side: scratchnet's twin networks, the tools that compare the two, and the
catalogue of classic mistakes those tools catch (``MISTAKES``)."""

from reference.agreement import agree, assert_agree, errors, tolerance
from reference.compare import compare, format_comparison
from reference.mistakes import MISTAKES
from reference.twin import (
    UntiedBiasConv2d,
    copy_from_torch,
    copy_to_torch,
    to_torch,
    twin_of_layer,
)

__all__ = [
    "MISTAKES",
    "UntiedBiasConv2d",
    "agree",
    "assert_agree",
    "compare",
    "copy_from_torch",
    "copy_to_torch",
    "errors",
    "format_comparison",
    "to_torch",
    "tolerance",
    "twin_of_layer",
]
