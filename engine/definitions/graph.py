"""A process as a diagram: Mermaid ``stateDiagram-v2`` or Graphviz DOT."""

from __future__ import annotations

from engine.model import ProcessSpec


def _mermaid_id(sid: str) -> str:
    return f"s_{sid}"


def mermaid(spec: ProcessSpec, lang: str = "en") -> str:
    lines = ["stateDiagram-v2", f"    %% {spec.id} v{spec.version}: {spec.title.get(lang)}"]
    for s in spec.states.values():
        label = s.label.get(lang).replace('"', "'")
        lines.append(f'    state "{label}" as {_mermaid_id(s.id)}')
    lines.append(f"    [*] --> {_mermaid_id(spec.initial.id)}" if any(s.initial for s in spec.states.values()) else "")
    for a in spec.actions.values():
        if a.target is None:
            continue
        roles = ", ".join(a.roles)
        for src in a.sources:
            if src in spec.states and a.target in spec.states:
                lines.append(f"    {_mermaid_id(src)} --> {_mermaid_id(a.target)}: "
                             f"{a.label.get(lang).replace(':', ' ')} ({roles})")
    for s in spec.states.values():
        if s.final:
            lines.append(f"    {_mermaid_id(s.id)} --> [*]")
    return "\n".join(line for line in lines if line) + "\n"


def dot(spec: ProcessSpec, lang: str = "en") -> str:
    def q(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = [f"digraph {q(spec.id)} {{", "  rankdir=LR;", "  node [shape=box, style=rounded];",
             f"  label={q(spec.title.get(lang) + ' v' + str(spec.version))};"]
    for s in spec.states.values():
        shape = ", peripheries=2" if s.final else (", penwidth=2" if s.initial else "")
        lines.append(f"  {q(s.id)} [label={q(s.label.get(lang))}{shape}];")
    for a in spec.actions.values():
        if a.target is None:
            continue
        for src in a.sources:
            lines.append(f"  {q(src)} -> {q(a.target)} [label={q(a.label.get(lang) + ' (' + ', '.join(a.roles) + ')')}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


FORMATS = {"mermaid": mermaid, "dot": dot}
