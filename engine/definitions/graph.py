"""A process as a diagram (Mermaid ``stateDiagram-v2`` or Graphviz DOT), and every
process with the relations between them (``itsm graph --all``: a Mermaid flowchart)."""

from __future__ import annotations

from engine.i18n import N_, ntr, tr
from engine.model import Definitions, Label, ProcessSpec, role_label

# how processes meet, as the edges of ``itsm graph --all`` name it
EDGE_KINDS = {"link": N_("link"), "opens": N_("opens"), "cascade": N_("cascade"), "watch": N_("watch"),
              "input": N_("input"), "output": N_("output")}
CARDINALITY = {"one": N_("one"), "many": N_("many")}


def _roles(spec: ProcessSpec, roles: tuple[str, ...], lang: str) -> str:
    """The roles of an action by their labels."""
    return tr(", ", lang).join(label.get(lang) if (label := role_label(spec.roles, r)) else r for r in roles)


def _action(defs: Definitions, pid: str, aid: str, lang: str) -> str:
    spec = defs.processes.get(pid)
    action = spec.actions.get(aid) if spec is not None else None
    return action.label.get(lang) if action is not None else aid


def _edge(kind: str, label: str, lang: str) -> str:
    return tr("{kind}: {label}", lang, kind=tr(EDGE_KINDS[kind], lang), label=label)


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
        roles = _roles(spec, a.roles, lang)
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
            lines.append(f"  {q(src)} -> {q(a.target)} "
                         f"[label={q(a.label.get(lang) + ' (' + _roles(spec, a.roles, lang) + ')')}];")
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
                cardinality = tr(CARDINALITY[r.cardinality], lang) if r.cardinality in CARDINALITY else r.cardinality
                out.append((p.id, t, "link", tr("{label} ({id}, {cardinality})", lang, label=r.label.get(lang),
                                                 id=r.id, cardinality=cardinality)))
            for c in r.cascade:
                for t in r.targets:
                    out.append((t, p.id, "cascade", f"{_action(defs, t, c.on, lang)} → "
                                + tr("{label} ({id})", lang, label=_action(defs, p.id, c.action, lang), id=r.id)))
        for a in p.actions.values():
            if a.opens:
                out.append((p.id, a.opens, "opens", tr("{label} ({id})", lang, label=a.label.get(lang), id=a.id)))
        if p.criteria and p.criteria_watch:
            out.append((p.id, p.criteria_watch, "watch", ntr("{count} criterion", "{count} criteria",
                                                             len(p.criteria), lang)))
    return [e for e in out if e[0] in defs.processes and e[1] in defs.processes]


def _text(text: str) -> str:
    return text.replace('"', "#quot;").replace("|", "#124;")


def mermaid_all(defs: Definitions, lang: str = "en") -> str:
    """Every process (with its states, initial to final) and the relations between
    them: one Mermaid flowchart, the processes' inputs and outputs."""
    lines = ["flowchart LR", "    %% " + tr("every process and how they meet: itsm graph --all", lang)]
    for p in defs.processes.values():
        states = " → ".join(s.label.get(lang) for s in p.states.values() if not s.final)
        finals = tr(", ", lang).join(s.label.get(lang) for s in p.states.values() if s.final)
        label = f"<b>{p.title.get(lang)}</b> ({p.key_prefix})<br/>{states}" + (f" ⇒ {finals}" if finals else "")
        lines.append(f'    p_{p.id}["{_text(label)}"]')
    arrows = {"link": "-->", "opens": "-.->", "cascade": "==>", "watch": "-.->"}
    for src, dst, kind, label in _edges(defs, lang):
        lines.append(f'    p_{src} {arrows[kind]}|"{_text(_edge(kind, label, lang))}"| p_{dst}')
    alerts, knowledge = _outside(defs)
    if alerts:
        lines.append(f'    in_alerts(["{_text(OUTSIDE["alerts"].get(lang))}"])')
        lines.append(f'    in_alerts -->|"{_text(_edge("input", "codes/alert_rules.yaml", lang))}"| p_{alerts}')
    if knowledge:
        lines.append(f'    out_search[("{_text(OUTSIDE["search"].get(lang))}")]')
        for p, text in _knowledge(defs, knowledge, lang):
            lines.append(f'    p_{p} -->|"{_text(_edge("output", text, lang))}"| out_search')
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


def _knowledge(defs: Definitions, knowledge: list[tuple[str, str]], lang: str) -> list[tuple[str, str]]:
    """Each process's solution field and the states that publish it, by their labels."""
    out = []
    for pid, _ in knowledge:
        p = defs.processes[pid]
        fld = p.fields.get(p.solution_field) if p.solution_field else None
        text = fld.label.get(lang) if fld is not None else str(p.solution_field)
        if p.publish_states:
            text = tr("{label} ({id})", lang, label=text, id=tr(", ", lang).join(
                p.states[s].label.get(lang) if s in p.states else s for s in p.publish_states))
        out.append((pid, text))
    return out


def dot_all(defs: Definitions, lang: str = "en") -> str:
    def q(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = ['digraph "processes" {', "  rankdir=LR;", "  node [shape=box, style=rounded];"]
    for p in defs.processes.values():
        lines.append(f"  {q(p.id)} [label={q(p.title.get(lang) + ' (' + p.key_prefix + ')')}];")
    styles = {"link": "solid", "opens": "dashed", "cascade": "bold", "watch": "dotted"}
    for src, dst, kind, label in _edges(defs, lang):
        lines.append(f"  {q(src)} -> {q(dst)} [label={q(_edge(kind, label, lang))}, style={styles[kind]}];")
    alerts, knowledge = _outside(defs)
    if alerts:
        lines.append(f"  alerts [label={q(OUTSIDE['alerts'].get(lang))}, shape=oval];")
        lines.append(f"  alerts -> {q(alerts)} [label={q(_edge('input', 'codes/alert_rules.yaml', lang))}];")
    if knowledge:
        lines.append(f"  search [label={q(OUTSIDE['search'].get(lang))}, shape=cylinder];")
        for p, text in _knowledge(defs, knowledge, lang):
            lines.append(f"  {q(p)} -> search [label={q(_edge('output', text, lang))}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


FORMATS_ALL = {"mermaid": mermaid_all, "dot": dot_all}
