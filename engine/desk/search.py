"""Recorded solutions become knowledge: ``itsm search``, ``itsm similar`` and
solution reuse.

Every ticket's searchable text (title, description, the process's solution
field, its other text fields, and the notes of its journal) is kept in the
store's text in the same transaction as the ticket; on SQLite its full-text
index catches up in batches (:mod:`engine.store.search`).
This module decides what goes into the index, turns a query into terms, ranks
similar tickets (text first, then the same service and category) and cuts the
snippet that shows why a ticket matched.  The SQL lives in the store.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Iterable, Mapping

from engine.desk.context import Desk
from engine.errors import ActionRefused, NotFound, UsageError
from engine.i18n import N_
from engine.model import ProcessSpec
from engine.runtime.ticket import Ticket

TEXT_TYPES = ("text", "string")
# the order in which a snippet is looked for: what tells the agent most first
SNIPPET_ORDER = ("title", "solution", "description", "details", "notes")
SIMILAR_POOL = 50  # text candidates re-ranked by service and category
SAME_SERVICE = 0.3  # added to the text score (0..1) of a ticket of the same service
SAME_CATEGORY = 0.15
MAX_SIMILAR_TERMS = 40
LOOKUP_TERMS = 12  # of them, the ones a similar-tickets look-up asks the index for
LOOKUP_BUDGET_MS = 200  # a look-up that takes longer is given up (no suggestions rather than a wait)
_WORD = re.compile(r"[0-9A-Za-z][0-9A-Za-z_.\-]*[0-9A-Za-z]|[0-9A-Za-z]")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_QUERY = re.compile(r'"([^"]+)"|(\S+)')
_STOP = frozenset("""the and for with not but from this that are was were has have had can cannot
could should would will when what which who how why all any our your their its his her into onto
over under after before about again please help need issue problem error""".split())


# -- the index -----------------------------------------------------------------------

def published(spec: ProcessSpec, state: str | None) -> bool:
    """Whether the solution field is published in ``state`` (``search.publish``:
    a known error's workaround; without it, whenever it is recorded)."""
    return not spec.publish_states or state in spec.publish_states


def document(spec: ProcessSpec, values: Mapping[str, Any], state: str | None = None) -> dict[str, str]:
    """The searchable text of a ticket with these field values (in ``state``: the
    solution field of a process with ``search.publish`` counts only in those states)."""
    solution_field = spec.solution_field
    details = [str(values[f]) for f in spec.text_fields if f != solution_field and values.get(f)]
    shown = solution_field and published(spec, state)
    return {"title": str(values.get("title") or ""),
            "description": str(values.get("description") or ""),
            "solution": str(values.get(solution_field) or "") if shown else "",
            "details": "\n".join(details)}


def index(repo: Any, spec: ProcessSpec, ticket: Ticket, new: bool = False) -> None:
    """Index the ticket's text; ``new``: it was inserted in this transaction."""
    repo.search.put(ticket.id, document(spec, ticket.values, ticket.state), new=new)


def index_if_changed(repo: Any, spec: ProcessSpec, ticket: Ticket, changes: Mapping[str, Any],
                     before: str | None = None) -> None:
    """Re-index after an action that changed text the index holds, or moved the
    ticket into or out of the states that publish its solution (from ``before``).
    ``changes``: field -> [old value, new value] (the action's); only the
    indexed columns whose text differs from before the action are written."""
    changed = [f for f in changes if f in ("title", "description") or f in spec.text_fields]
    if changed or (spec.publish_states and before is not None
                   and published(spec, before) != published(spec, ticket.state)):
        old = dict(ticket.values)
        for f in changed:
            pair = changes[f]
            if isinstance(pair, (list, tuple)) and len(pair) == 2:
                old[f] = pair[0]
            else:  # not an [old, new] pair: the text before is not known, write it all
                old = None
                break
        repo.search.put(ticket.id, document(spec, ticket.values, ticket.state),
                        before=document(spec, old, before or ticket.state) if old is not None else None)


def publishing(desk: Desk) -> tuple[str, ...]:
    """The processes whose solutions count as found before the ticket is resolved
    (``search.publish``: a known error's workaround)."""
    return tuple(p.id for p in desk.defs.processes.values() if p.publish_states)


def reindex(desk: Desk, progress: Callable[[int, int | None], None] | None = None) -> int:
    """Rebuild every ticket's indexed text from the tickets and their journals
    (after an upgrade from a schema without the index, or a bulk import);
    ``progress(done, None)`` is told as it goes."""
    from engine.runtime.ticket import Ticket

    count = 0
    with desk.store.write() as repo:
        for row in repo.iter_tickets():
            ticket = Ticket.from_row(row)
            spec = desk.defs.processes.get(ticket.process)
            doc = document(spec, ticket.values, ticket.state) if spec is not None else {
                "title": ticket.values.get("title") or "", "description": ticket.values.get("description") or ""}
            repo.search.put(ticket.id, doc)
            notes = [e["note"] for e in repo.events(ticket.id) if e.get("note")]
            repo.search.set_notes(ticket.id, "\n".join(notes))
            count += 1
            if progress is not None:
                progress(count, None)
        repo.search.rebuild()
    return count


# -- queries -------------------------------------------------------------------------

def query_terms(text: str) -> list[str]:
    """Whitespace-separated terms; "double quotes" keep a phrase together."""
    terms = [(m.group(1) or m.group(2)).strip() for m in _QUERY.finditer(text or "")]
    return [t for t in terms if t]


def similar_terms(*texts: str) -> list[str]:
    """The terms that describe a ticket for finding similar ones: words of three
    or more letters (no stop words) and, for Chinese, every three-character run
    (what a trigram index can match), most frequent first."""
    counts: dict[str, int] = {}
    for text in texts:
        if not text:
            continue
        for word in _WORD.findall(text):
            w = word.lower()
            if len(w) >= 3 and w not in _STOP and not w.isdigit():
                counts[w] = counts.get(w, 0) + 1
        for run in _CJK.findall(text):
            for i in range(max(len(run) - 2, 0)):
                gram = run[i:i + 3]
                counts[gram] = counts.get(gram, 0) + 1
    ranked = sorted(counts, key=lambda t: (-counts[t], -len(t)))
    return ranked[:MAX_SIMILAR_TERMS]


def snippet(row: Mapping[str, Any], terms: Iterable[str], width: int = 80) -> dict[str, str]:
    """Where the first term occurs, in the most telling column, with the match in
    [brackets]; the title when nothing matches literally."""
    lowered = [t.lower() for t in terms if t]
    for column in SNIPPET_ORDER:
        text = " ".join(str(row.get(f"text_{column}") or "").split())
        low = text.lower()
        hits = [(low.find(t), t) for t in lowered if low.find(t) >= 0]
        if not hits:
            continue
        at, term = min(hits)
        start = max(0, at - width // 3)
        end = min(len(text), at + len(term) + width - width // 3)
        cut = (("…" if start else "") + text[start:at] + "[" + text[at:at + len(term)] + "]"
               + text[at + len(term):end] + ("…" if end < len(text) else ""))
        return {"field": column, "text": cut}
    return {"field": "title", "text": str(row.get("text_title") or "")}


def _check_staff(actor: Any, what: str) -> None:
    if not (actor.roles or actor.groups or actor.system):
        raise ActionRefused(N_("{id} may not {what}: searching all tickets is for service-desk staff"),
                            allowed_roles=["service_desk"], values={"id": actor.id, "what": what})


def search(desk: Desk, text: str, process: str | None = None, resolved: bool = False,
           limit: int = 20, actor_id: str | None = None) -> list[dict[str, Any]]:
    """Tickets whose text contains every term of ``text``, best first."""
    from engine.store.search import Query

    terms = query_terms(text)
    if not terms:
        raise UsageError(N_('give something to search for, e.g. itsm search "理赔系统 无法登录"'))
    if process is not None:
        desk.process(process)  # unknown process -> NotFound
    with desk.store.read(search=True) as repo:
        _check_staff(desk.actor(repo, actor_id), "search")
        rows = repo.search.find(Query(terms=terms, process=process, resolved_only=resolved,
                                      limit=max(1, limit), published=publishing(desk)))
    top = max((float(r["rank"] or 0) for r in rows), default=0.0)
    return [dict(_hit(desk, r, terms), score=relevance(r, terms, top)) for r in rows]


def relevance(row: Mapping[str, Any], terms: list[str], top: float) -> float:
    """A hit's score in 0..1 as shown: half how much of the query it holds (a term
    in the title or solution counts fully, elsewhere half), half its rank relative
    to the best hit.  The database's rank alone is near 0 on a small desk, where
    bm25 gives common words almost no weight."""
    weights = []
    for term in (t.lower() for t in terms):
        if any(term in str(row.get(f"text_{c}") or "").lower() for c in ("title", "solution")):
            weights.append(1.0)
        elif any(term in str(row.get(f"text_{c}") or "").lower() for c in ("description", "details", "notes")):
            weights.append(0.5)
        else:
            weights.append(0.0)
    coverage = sum(weights) / len(weights) if weights else 0.0
    ranked = max(float(row["rank"] or 0), 0.0) / top if top > 0 else coverage
    return round(0.5 * coverage + 0.5 * ranked, 3)


def similar(desk: Desk, key: str, limit: int = 5, actor_id: str | None = None) -> list[dict[str, Any]]:
    """Resolved tickets most like ``key`` that recorded a solution."""
    with desk.store.read(search=True) as repo:
        _check_staff(desk.actor(repo, actor_id), "look for similar tickets")
        row = repo.get_ticket(key.upper())
        return similar_in(desk, repo, row, limit)


def offered(desk: Desk, key: str, actor_id: str | None = None, limit: int = 3) -> list[dict[str, Any]] | None:
    """The known solutions ``itsm new`` shows the agent who logged ``key``: looked
    up once the intake committed (the intake's cost does not depend on the
    desk's history), in :data:`LOOKUP_BUDGET_MS` at most; None for end users,
    who never see other users' tickets."""
    with desk.store.read(search=True) as repo:
        actor = desk.actor(repo, actor_id)
        if not (actor.roles or actor.groups):
            return None
        return similar_in(desk, repo, repo.get_ticket(key.upper()), limit)


def similar_in(desk: Desk, repo: Any, row: Mapping[str, Any], limit: int) -> list[dict[str, Any]]:
    """Resolved tickets like ``row`` with a solution, best first: the text's
    terms (:func:`similar_terms`, the first :data:`LOOKUP_TERMS`) looked up at a
    bounded cost (engine.store.search.SearchIndex.find_similar), then the same
    service and category preferred."""
    terms = similar_terms(row.get("title") or "", row.get("description") or "")[:LOOKUP_TERMS]
    if not terms:
        return []
    rows = repo.search.find_similar(terms, exclude_id=row["id"], limit=SIMILAR_POOL,
                                    budget_ms=LOOKUP_BUDGET_MS, published=publishing(desk))
    if not rows:
        return []
    top = max(float(r["rank"] or 0) for r in rows) or 1.0
    scored = []
    for r in rows:
        score = max(float(r["rank"] or 0), 0.0) / top
        if row.get("service") and r["service"] == row.get("service"):
            score += SAME_SERVICE
        if row.get("category") and r["category"] == row.get("category"):
            score += SAME_CATEGORY
        scored.append((score, r))
    scored.sort(key=lambda p: (-p[0], -int(p[1]["id"])))
    return [dict(_hit(desk, r, terms), score=round(s, 3)) for s, r in scored[:max(1, limit)]]


def public_solutions(desk: Desk, repo: Any, text: str, limit: int = 5) -> list[dict[str, Any]]:
    """Self-help: the solutions anyone may read that match ``text``, best first.

    A ticket's solution is public when its process's solution field
    (``search.solution``) is ``public: true``: the text an end user is shown of
    another ticket, as in the acknowledgement's suggestions.  Whatever the index
    holds as a ticket's solution appears here -- the solutions of resolved
    incidents, and a known error's workaround once its process names the
    workaround as its public solution field.  Only that text, the process's title
    and the service's label come back: never a key, title, description, reporter
    or note."""
    from engine.store.search import Query

    terms = similar_terms(text)
    public = {pid: spec for pid, spec in desk.defs.processes.items()
              if spec.solution_field and getattr(spec.fields.get(spec.solution_field), "public", False)}
    if not terms or not public:
        return []
    rows = repo.search.find(Query(terms=terms, with_solution=True, any_term=True, limit=SIMILAR_POOL))
    services = desk.defs.codes.get("services")
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for r in rows:
        spec = public.get(r["process"])
        solution = " ".join(str(r["text_solution"] or "").split())
        if spec is None or not solution or solution in seen:
            continue
        seen.add(solution)
        service = r["service"]
        out.append({"solution": solution, "process": spec.id, "process_title": spec.title.get(desk.lang),
                    "service": service,
                    "service_label": services.label(service, desk.lang) if services and service else None})
        if len(out) >= limit:
            break
    return out


def _hit(desk: Desk, r: Mapping[str, Any], terms: list[str]) -> dict[str, Any]:
    fields = r["fields"] or {}
    return {"key": r["key"], "process": r["process"], "title": r["title"], "state": r["state"],
            "status": r["status"], "priority": r["priority"], "service": r["service"],
            "category": r["category"], "resolved_at": desk.iso(_aware(r["resolved_at"])),
            "closure_code": fields.get("closure_code"),
            "solution": r["text_solution"] or None,
            "score": round(float(r["rank"] or 0), 3),
            "match": snippet(r, terms)}


def _aware(t: Any) -> Any:
    from engine.store.repository import from_db

    return from_db(t)


# -- reuse ---------------------------------------------------------------------------

def fill_reused_solution(desk: Desk, repo: Any, spec: ProcessSpec, ticket: Ticket,
                         inputs: dict[str, Any]) -> None:
    """``--set solution_from=KEY``: check KEY has a solution to reuse, and copy it
    into the solution field when the agent gave none."""
    reuse, field = spec.reuse_field, spec.solution_field
    if not reuse or not field or not inputs.get(reuse):
        return
    source_key = str(inputs[reuse]).strip().upper()
    if source_key == ticket.key:
        raise ActionRefused(N_("{key} cannot reuse its own solution ({reuse})"),
                            values={"key": ticket.key, "reuse": reuse})
    try:
        source = repo.get_ticket(source_key)
    except NotFound:  # the field's own check says "no such ticket"
        return
    source_spec = desk.defs.processes.get(source["process"])
    solution = (source.get("fields") or {}).get(source_spec.solution_field) if source_spec and \
        source_spec.solution_field else None
    if not solution:
        raise ActionRefused(N_("{source_key} has no recorded solution to reuse ({reuse})"),
                            missing=[field] if not inputs.get(field) else [], values={"source_key": source_key, "reuse": reuse})
    if not inputs.get(field):
        inputs[field] = solution
