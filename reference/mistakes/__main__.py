"""``python -m reference.mistakes`` prints the catalogue's page (reference/MISTAKES.md)."""

from reference.mistakes import markdown

print(markdown(), end="")
