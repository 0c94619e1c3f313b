"""A relation (``relations:``) or a use of one names something that does not
exist: a target process; a cascade's target action (``on``), its own action or a
copied field (which its own action must require or accept: the copy is that
action's input); the ``relation:`` of an action that ``opens`` a ticket (it must be
declared and point at that process); or ``links.REL`` / ``linked.REL`` in an
expression (a relation this process declares / one pointing at it). (Without a
declared relation, the link ``opens:`` and major-incident criteria make is an
implicit default ``part_of`` of cardinality one.)

Bad::

    relations:
      caused_by:
        label: {en: Caused by problem, zh: 根因问题}
        to: problems
        cascade:
          resolve: {action: close}
    actions:
      raise_problem: {from: "*", roles: [service_desk], opens: problem, relation: cause}

Good::

    relations:
      caused_by:
        label: {en: Caused by problem, zh: 根因问题}
        to: problem
    actions:
      raise_problem: {from: "*", roles: [service_desk], opens: problem, relation: caused_by}
"""

from __future__ import annotations

from typing import Iterator

from engine.i18n import N_, message
from engine.lint.context import LintContext
from engine.lint.rules._expr import chain, expressions, kind, parse, walk, where_in
from engine.lint.rules.undefined_reference import known_fields
from engine.model import Where

ID = "K001"
SLUG = "relation-reference"
SEVERITY = "error"


def check(ctx: LintContext) -> Iterator[tuple[Where, str]]:
    procs = {spec.id: spec for _, spec in ctx.valid_processes()}
    for doc, spec in ctx.valid_processes():
        for rid, rel in spec.relations.items():
            base = ("relations", rid)
            for i, target in enumerate(rel.targets):
                if target not in procs and not ctx.known_process(target) and ctx.repo_files:
                    path = base + ("to", i) if isinstance(doc.get(base + ("to",)), list) else base + ("to",)
                    yield ctx.where(doc, path, key=False), \
                        message(N_("relation '{rid}' points at undefined process '{target}'"),
                                rid=rid, target=target)
            for c in rel.cascade:
                where = ctx.where(doc, base + ("cascade", c.on))
                for target in (procs[t] for t in rel.targets if t in procs):
                    if c.on not in target.actions:
                        yield where, (message(N_("relation '{rid}' cascades on '{on}', which '{id}' tickets do not have"),
                                              rid=rid, on=c.on, id=target.id))
                    for f in c.copy:
                        if f not in known_fields(target):
                            yield where, (message(N_("the cascade '{on}' of relation '{rid}' copies '{f}', which '{id}' has no field for"),
                                                  on=c.on, rid=rid, f=f, id=target.id))
                if c.action not in spec.actions:
                    yield ctx.where(doc, base + ("cascade", c.on, "action"), key=False), \
                        (message(N_("the cascade '{on}' of relation '{rid}' performs '{action}', but '{id}' has no such action"),
                                 on=c.on, rid=rid, action=c.action, id=spec.id))
                else:  # what it copies is the action's input: one it does not take refuses it every time
                    own = spec.actions[c.action]
                    for f in c.copy:
                        if f not in own.requires and f not in own.accepts:
                            yield where, (message(N_("the cascade '{on}' of relation '{rid}' copies '{f}' into '{action}', which neither requires nor accepts it: the cascade would be refused every time"),
                                                  on=c.on, rid=rid, f=f, action=c.action))
        for aid, action in spec.actions.items():
            if not action.opens or action.opens not in procs:
                continue
            if action.relation is not None:
                rel = spec.relations.get(action.relation)
                where = ctx.where(doc, ("actions", aid, "relation"), key=False)
                if rel is None:
                    yield where, message(N_("action '{aid}' links by undeclared relation '{relation}'"),
                                         aid=aid, relation=action.relation)
                elif action.opens not in rel.targets:
                    yield where, (message(N_("action '{aid}' opens a '{opens}' ticket but relation '{relation}' points at {targets}"),
                                          aid=aid, opens=action.opens, relation=action.relation, targets=', '.join(rel.targets)))
    yield from _expressions(ctx, procs)


def _expressions(ctx: LintContext, procs: dict) -> Iterator[tuple[Where, str]]:  # type: ignore[type-arg]
    for doc, spec, path, source, _ in expressions(ctx):
        if path[0] == "criteria":
            continue  # criteria read the watched ticket, without links
        tree = parse(source)
        if tree is None:
            continue
        incoming = {r.id for p in procs.values() for r in p.relations.values() if spec.id in r.targets}
        for node in walk(tree):
            if kind(node) not in ("Getattr", "Getitem"):
                continue
            steps = chain(node)
            if not steps or len(steps) != 2 or steps[1][0] != "attr":
                continue
            root, name = steps[0][1], str(steps[1][1])
            if root == "links" and name not in spec.relations:
                yield where_in(doc, path, source, f"links.{name}"), \
                    message(N_("'links.{name}': process '{id}' declares no relation '{name}' in '{source}'"),
                            name=name, id=spec.id, source=source)
            elif root == "linked" and name not in incoming:
                yield where_in(doc, path, source, f"linked.{name}"), \
                    message(N_("'linked.{name}': no relation '{name}' points at '{id}' tickets in '{source}'"),
                            name=name, id=spec.id, source=source)
