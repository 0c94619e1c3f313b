"""Lint rules, one module each; the module docstring is the rule's documentation."""
