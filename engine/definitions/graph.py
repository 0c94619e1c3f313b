"""A process as a diagram (Mermaid ``stateDiagram-v2`` or Graphviz DOT), and every
process with the relations between them (``itsm graph --all``: a Mermaid flowchart)."""

from __future__ import annotations

from engine.model import Definitions, Label, ProcessSpec


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


# -- every process and how they meet (itsm graph --all) ---------------------------------
def _edges(defs: Definitions, lang: str) -> list[tuple[str, str, str, str]]:
    """(source process, target process, kind, label) for every way processes meet:
    relations (kind ``link``), actions that open a ticket (``opens``), cascades along a
    relation (``cascade``) and major-incident criteria watching a process (``watch``)."""
    out = []
    for p in defs.processes.values():
        for r in p.relations.values():
            for t in r.targets:
                out.append((p.id, t, "link", f"{r.label.get(lang)} ({r.id}, {r.cardinality})"))
            for c in r.cascade:
                for t in r.targets:
                    out.append((t, p.id, "cascade", f"{c.on} → {c.action} ({r.id})"))
        for a in p.actions.values():
            if a.opens:
                out.append((p.id, a.opens, "opens", f"{a.label.get(lang)} ({a.id})"))
        if p.criteria and p.criteria_watch:
            out.append((p.id, p.criteria_watch, "watch", f"criteria ({len(p.criteria)})"))
    return [e for e in out if e[0] in defs.processes and e[1] in defs.processes]


def _text(text: str) -> str:
    return text.replace('"', "#quot;").replace("|", "#124;")


def mermaid_all(defs: Definitions, lang: str = "en") -> str:
    """Every process (with its states, initial to final) and the relations between
    them: one Mermaid flowchart, the processes' inputs and outputs."""
    lines = ["flowchart LR", "    %% every process and how they meet: itsm graph --all"]
    for p in defs.processes.values():
        states = " → ".join(s.label.get(lang) for s in p.states.values() if not s.final)
        finals = ", ".join(s.label.get(lang) for s in p.states.values() if s.final)
        label = f"<b>{p.title.get(lang)}</b> ({p.key_prefix})<br/>{states}" + (f" ⇒ {finals}" if finals else "")
        lines.append(f'    p_{p.id}["{_text(label)}"]')
    arrows = {"link": "-->", "opens": "-.->", "cascade": "==>", "watch": "-.->"}
    for src, dst, kind, label in _edges(defs, lang):
        lines.append(f'    p_{src} {arrows[kind]}|"{_text(kind + ": " + label)}"| p_{dst}')
    alerts, knowledge = _outside(defs)
    if alerts:
        lines.append(f'    in_alerts(["{_text(OUTSIDE["alerts"].get(lang))}"])')
        lines.append(f'    in_alerts -->|"input: codes/alert_rules.yaml"| p_{alerts}')
    if knowledge:
        lines.append(f'    out_search[("{_text(OUTSIDE["search"].get(lang))}")]')
        for p, text in knowledge:
            lines.append(f'    p_{p} -->|"{_text("output: " + text)}"| out_search')
    return "\n".join(lines) + "\n"


OUTSIDE = {"alerts": Label("Monitoring alerts", "监控告警"),
           "search": Label("Solution search and self-help", "解决方案检索与自助服务")}


def _outside(defs: Definitions) -> tuple[str | None, list[tuple[str, str]]]:
    """The process monitoring alerts open, and each process's solution field as it
    reaches the solution search (with the states that publish it)."""
    table = defs.codes.get("alert_rules")
    alerts = table.extra.get("process") if table is not None else None
    knowledge = [(p.id, p.solution_field + (f" ({', '.join(p.publish_states)})" if p.publish_states else ""))
                 for p in defs.processes.values() if p.solution_field]
    return (str(alerts) if alerts in defs.processes else None), knowledge


def dot_all(defs: Definitions, lang: str = "en") -> str:
    def q(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = ['digraph "processes" {', "  rankdir=LR;", "  node [shape=box, style=rounded];"]
    for p in defs.processes.values():
        lines.append(f"  {q(p.id)} [label={q(p.title.get(lang) + ' (' + p.key_prefix + ')')}];")
    styles = {"link": "solid", "opens": "dashed", "cascade": "bold", "watch": "dotted"}
    for src, dst, kind, label in _edges(defs, lang):
        lines.append(f"  {q(src)} -> {q(dst)} [label={q(kind + ': ' + label)}, style={styles[kind]}];")
    alerts, knowledge = _outside(defs)
    if alerts:
        lines.append(f"  alerts [label={q(OUTSIDE['alerts'].get(lang))}, shape=oval];")
        lines.append(f"  alerts -> {q(alerts)} [label={q('input: codes/alert_rules.yaml')}];")
    if knowledge:
        lines.append(f"  search [label={q(OUTSIDE['search'].get(lang))}, shape=cylinder];")
        for p, text in knowledge:
            lines.append(f"  {q(p)} -> search [label={q('output: ' + text)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


FORMATS_ALL = {"mermaid": mermaid_all, "dot": dot_all}
