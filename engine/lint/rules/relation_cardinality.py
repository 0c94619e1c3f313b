"""A relation's declaration contradicts how it is used: two default relations
from one process to the same target process (``itsm link KEY TARGET`` and
``opens:`` could not tell which); or the link a major-incident process's
criteria make, or an ``opens:`` action makes, is of cardinality ``many`` (a
ticket belongs to one major incident and is opened from once: such a link must
be ``cardinality: one``).

Bad::

    relations:
      part_of: {label: {en: Part of, zh: 属于}, to: major_incident, default: true}
      related: {label: {en: Related, zh: 相关}, to: major_incident, default: true}

Good::

    relations:
      part_of: {label: {en: Part of, zh: 属于}, to: major_incident, cardinality: one, default: true}
      related: {label: {en: Related, zh: 相关}, to: major_incident}
"""

from __future__ import annotations

from typing import Iterator

from engine.i18n import N_, message
from engine.lint.context import LintContext
from engine.model import Where

ID = "K002"
SLUG = "relation-cardinality"
SEVERITY = "error"


def check(ctx: LintContext) -> Iterator[tuple[Where, str]]:
    procs = {spec.id: spec for _, spec in ctx.valid_processes()}
    for doc, spec in ctx.valid_processes():
        seen: dict[str, str] = {}
        for rid, rel in spec.relations.items():
            if not rel.default:
                continue
            for target in rel.targets:
                if target in seen:
                    yield ctx.where(doc, ("relations", rid, "default"), key=False), \
                        (message(N_("relations '{seen}' and '{rid}' are both the default relation to '{target}' tickets: keep one"),
                                 seen=seen[target], rid=rid, target=target))
                seen.setdefault(target, rid)
        watchers = {p.id for p in procs.values() if p.criteria and p.criteria_watch == spec.id}
        for aid, action in spec.actions.items():
            if action.opens and action.relation in spec.relations:
                rel = spec.relations[action.relation]
                if rel.cardinality != "one":
                    yield ctx.where(doc, ("relations", rel.id)), \
                        (message(N_("action '{aid}' opens a ticket linked by relation '{id}', which must then be cardinality: one"),
                                 aid=aid, id=rel.id))
        for rid, rel in spec.relations.items():
            if rel.default and rel.cardinality != "one" and watchers & set(rel.targets):
                yield ctx.where(doc, ("relations", rid)), \
                    (message(N_("relation '{rid}' is how major-incident criteria link '{id}' tickets (the default relation to the watching process): it must be cardinality: one"),
                             rid=rid, id=spec.id))
