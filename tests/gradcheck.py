"""Central finite differences for the tests: the rule and the helpers live in
:mod:`reference.finite_differences`, which ``reference.check_layer`` uses too."""

from reference.finite_differences import assert_matches_finite_differences, numerical_gradient

__all__ = ["assert_matches_finite_differences", "numerical_gradient"]
