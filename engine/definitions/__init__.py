"""Definitions: the process team's YAML turned into immutable specs.

loader (YAML with positions; the only importer of yaml) -> validate (JSON
Schema; the only importer of jsonschema) -> specs (frozen ProcessSpec, CodeTable
...); expressions (guards and criteria in the Jinja sandbox, shared by lint and
runtime); graph (Mermaid/DOT); diff (what a change of definitions does);
home (where a process repository is, ``itsm init``); alert_table (the vocabulary
of codes/alert_rules.yaml).

May import: ground.
"""
