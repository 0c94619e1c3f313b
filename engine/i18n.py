"""Messages the engine and CLI say to people, in the chosen language.

Labels of states, actions, fields and codes come from the definitions; this
module holds the engine's own sentences and headings.  The English text is the
gettext msgid; the translations live in gettext catalogues maintained with
Babel: ``engine/locale/<lang>/LC_MESSAGES/itsm.po`` (edited) and ``itsm.mo``
(compiled with ``python tools/i18n.py compile``, shipped).  At run time only the
standard library's :mod:`gettext` reads the ``.mo``, once, and only when a
language other than English is chosen.

    tr("no ticket {key}", lang, key=key)   # a sentence, marked for extraction
    t("missing", lang, action=..., fields=...)   # a sentence by its id (MESSAGES)
    N_("...")   # marks a string for extraction, translated later with tr()
    ntr("{count} ticket", "{count} tickets", n, lang)   # a number's noun, singular or plural
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing is not imported at run time (start-up of a remote command)
if TYPE_CHECKING:  # gettext and re are imported when a language other than English is chosen
    import gettext
    import re
    from collections.abc import Iterable, Mapping
    from typing import Any

LANGS = ("en", "zh")
DOMAIN = "itsm"
LOCALE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "locale")


def N_(text: str) -> str:
    """Mark ``text`` for extraction without translating it now."""
    return text


MESSAGES: dict[str, str] = {
    'no_action': N_("process '{process}' has no action '{action}'; available now: {available}"),
    'not_in_state': N_("action '{action}' is not available in state '{state}'; available now: {available}"),
    'wrong_role': N_('{actor} may not {action} {key}: it needs one of the roles {roles}'),
    'missing': N_('{action} needs: {fields} (missing)'),
    'not_accepted': N_("{action} does not take field '{field}'; it takes: {accepted}"),
    'guard': N_('{action} is not allowed now: {reason}'),
    'criteria': N_("{key} cannot enter '{state}': {failed}"),
    'note_required': N_('{action} needs a note (--note)'),
    'override': N_('only {roles} may set the priority by hand, and only with a reason (--note)'),
    'none': N_('none'),
    'key': N_('Key'),
    'state': N_('State'),
    'priority': N_('Priority'),
    'title': N_('Title'),
    'assignee': N_('Assignee'),
    'group': N_('Group'),
    'service': N_('Service'),
    'process': N_('Process'),
    'updated': N_('Updated'),
    'action': N_('Action'),
    'to': N_('To'),
    'requires': N_('Requires'),
    'roles': N_('Roles'),
    'at': N_('At'),
    'actor': N_('Actor'),
    'on_behalf_of': N_('{by} on behalf of {actor}'),
    'label': N_('Label'),
    'change': N_('Change'),
    'note': N_('Note'),
    'created': N_('Created'),
    'reporter': N_('Reporter'),
    'sla': N_('SLA'),
    'fields': N_('Fields'),
    'id': N_('Id'),
    'name': N_('Name'),
    'email': N_('E-mail'),
    'groups': N_('Groups'),
    'site': N_('Site'),
    'due': N_('Due'),
    'met': N_('met'),
    'breached': N_('breached'),
    'running': N_('running'),
    'paused': N_('paused'),
    'history': N_('History'),
    'urgency_impact': N_('Urgency / impact'),
    'classification': N_('Category'),
    'parent': N_('Parent'),
    'opened': N_('Opened'),
    'attachment': N_('Attachment'),
    'elapsed': N_('elapsed'),
    'of': N_('of'),
    'override_label': N_('override'),
    'due_inline': N_('due'),
    'stays': N_('(stays)'),
    'similar_solutions': N_('Known solutions of similar tickets (itsm similar KEY):'),
    'no_matches': N_('no ticket matches'),
    'no_similar': N_('no resolved ticket with a solution looks like {key}'),
    'solution': N_('Solution'),
    'match': N_('Match'),
    'score': N_('Score'),
    'closure': N_('Closure'),
    'reindexed': N_('re-indexed {count} tickets'),
    'status_token': N_('Status token (give it to the reporter)'),
    'created_ticket': N_('created {key}'),
    'done': N_('{key}: {action} -> {state}'),
    'yes': N_('yes'), 'no': N_('no'), 'internal': N_('internal'),
    'ev_create': N_('Logged'), 'ev_comment': N_('Note'), 'ev_attach': N_('File attached'),
    'ev_link': N_('Linked'), 'ev_unlink': N_('Unlinked'), 'ev_tick': N_('Timer'), 'ev_sla': N_('SLA'),
    'ev_timer': N_('Timer'), 'ev_alert': N_('Alert'), 'ev_migrate': N_('Migrated'), 'ev_mail': N_('Mail'),
}

# The engine's own journal events (no action of a process): the MESSAGES id of their word.
EVENT_WORDS = {"create": "ev_create", "comment": "ev_comment", "attach": "ev_attach", "link": "ev_link",
               "unlink": "ev_unlink", "tick": "ev_tick", "sla": "ev_sla", "timer": "ev_timer", "alert": "ev_alert",
               "migrate": "ev_migrate", "mail": "ev_mail"}

_CATALOGUES: dict[str, "gettext.NullTranslations"] = {}


def catalogue(lang: str) -> "gettext.NullTranslations":
    """The compiled catalogue of ``lang`` (read once; English needs none)."""
    found = _CATALOGUES.get(lang)
    if found is None:
        import gettext

        if lang == "en":
            found = gettext.NullTranslations()
        else:
            found = gettext.translation(DOMAIN, LOCALE_DIR, languages=[lang], fallback=True)
        _CATALOGUES[lang] = found
    return found


def tr(text: str, lang: str = "en", /, **values: Any) -> str:
    """``text`` (an English msgid) in ``lang``, with ``values`` put in."""
    out = text if lang == "en" else catalogue(lang).gettext(text)
    return out.format(**values) if values else out


def ntr(singular: str, plural: str, n: int, lang: str = "en", **values: Any) -> str:
    """``singular`` or ``plural`` (English msgids) as ``n`` asks, in ``lang``, with
    ``values`` put in; ``{count}`` is ``n`` unless given.  Chinese has one form."""
    out = (singular if n == 1 else plural) if lang == "en" else catalogue(lang).ngettext(singular, plural, n)
    values.setdefault("count", n)
    return out.format(**values)


def t(msg_id: str, lang: str = "en", /, **values: Any) -> str:
    """The message ``msg_id`` of :data:`MESSAGES` in ``lang``."""
    return tr(MESSAGES[msg_id], lang, **values)


def choose(explicit: str | None, person: str | None = None) -> str:
    """The language: ``--lang`` / ``ITSM_LANG`` (explicit), then the person's own, then English."""
    for lang in (explicit, person):
        if lang in LANGS:
            return str(lang)
    return "en"


TICK_KINDS = {"sla": N_("SLA"), "timer": N_("timer"), "warning": N_("warning"), "breach": N_("breach"),
              "remind": N_("reminder"), "report": N_("report"), "audit": N_("audit"), "outbox": N_("outbox")}

TICK_OUTCOMES = (  # what engine.desk.ticking records a due item did (stored in English)
    N_("{count} message(s) queued"), N_("{action} skipped: no longer applies ({state})"),
    N_("{action} refused: {reason}"), N_("{action} -> {state}"), N_("nothing to do"),
    N_("skipped: the timer itself is already due"),  # stored by earlier versions (a reminder of a late tick)
    N_("skipped: a later repetition is also due"),
    N_("skipped: {reason}"), N_("sealed {count} event(s), {total} in the desk log"),
    N_("checkpoint #{count} signed ({leaves} new event(s))"),
    N_("sent {sent}, retrying {retrying}, failed {failed}"), N_("{channel} given up on for this tick ({error})"),
    N_("{count} message(s) stay queued"), N_("{count} message(s): itsm outbox list --status failed, itsm outbox retry"),
    N_("{count} due ticket(s) left for the next tick (budget {budget}s spent)"), N_("stopped: {reason}"),
    N_("left for the next tick (budget spent)"), N_("on a big desk run 'itsm tick --only reports' as its own job"),
    N_("already ran"))
# A line of a live report is a Said (engine.i18n.message/joined: labels and a refusal's own words in each
# language); the English text is what is stored (fired.outcome) and what --json shows, and a stored
# text is said again from these shapes.

CASCADE_RESULTS = (  # what a parent's action did to its linked tickets (engine.desk.links.cascade)
    N_("{key}: not {action} ({reason})"), N_("{key}: {action}"))
REFUSALS = tuple(MESSAGES[k] for k in ("no_action", "not_in_state", "wrong_role", "missing", "not_accepted", "guard",
                                       "criteria", "note_required", "override"))  # why an action was refused

SYSTEM_NOTES = (  # the journal notes the engine itself writes (shown by history and the console)
    N_("{action} of {key}"), N_("candidate {key} opened: {reason}"), N_("same outbreak as {key}: candidate {candidate}"),
    N_("same outbreak as {key} ({reason})"), N_("{key} matches {reason}"),
    N_("breach {clock}"), N_("warning {clock}"), N_("timer {timer}"),  # an action a tick performed
    N_("Opened from a monitoring alert (rule {rule})."), N_("Alert firing again: {summary}"),  # engine.alerts
    N_("Alert resolved at {at}: {summary}. The incident stays open: resolve it once the service is confirmed "
       "restored."),
    N_("Alert resolved: {summary}. The incident stays open: resolve it once the service is confirmed restored."),
    N_("Alert repeated {count} time(s) since the last note ({total} alert(s) on this incident): {summary}"))
SYSTEM_ACTORS = ("system", "monitoring")  # who writes them


def event_labels(defs: Any, process: str, lang: str) -> dict[str, dict[str, str]]:
    """The labels a journal is shown with: ``actions``, ``states``, ``clocks``, ``timers`` and
    major-incident ``criteria`` (each in both languages) of
    ``process`` (then of the other processes, for a major incident's timeline,
    which holds its incidents' events), and the engine's own events (logged,
    note, file attached...).  ``defs``: engine.model.Definitions, or what a CLI in
    remote mode knows of the server's (engine.remote.labels.RemoteDefinitions)."""
    actions: dict[str, str] = {}
    states: dict[str, str] = {}
    clocks: dict[str, str] = {}
    timers: dict[str, str] = {}
    criteria: dict[str, dict[str, str]] = {}  # in both languages: a note written in either is said again
    first = defs.processes.get(process)
    for spec in [first] * (first is not None) + [p for p in defs.processes.values() if p is not first]:
        for aid, a in spec.actions.items():
            actions.setdefault(aid, str(a.label.get(lang)))
        for sid, st in spec.states.items():
            states.setdefault(sid, str(st.label.get(lang)))
        for c in spec.clocks:
            clocks.setdefault(c.id, str(c.label.get(lang)))
        for tm in spec.timers:
            timers.setdefault(tm.id, str(tm.label.get(lang)) if tm.label else tm.id)
        for c in spec.criteria:
            criteria.setdefault(c.id, {"en": str(c.label.get("en")), "zh": str(c.label.get("zh"))})
    for aid, word in EVENT_WORDS.items():
        actions.setdefault(aid, t(word, lang))
    return {"actions": actions, "states": states, "clocks": clocks, "timers": timers, "criteria": criteria}


def note_in(event: "Mapping[str, Any]", lang: str, labels: "Mapping[str, Mapping[str, str]] | None" = None) -> Any:
    """A journal event's note as shown in ``lang``: one the engine wrote (:data:`SYSTEM_NOTES`),
    line by line, with actions, SLA clocks, timers and major-incident criteria by ``labels``
    (engine.desk.forms.event_labels: ``actions``, ``clocks``, ``timers``, ``criteria``); a person's
    note as written."""
    note = event.get("note")
    if not note or lang == "en" or event.get("actor") not in SYSTEM_ACTORS:
        return note
    names = {"action": labels.get("actions", {}), "clock": labels.get("clocks", {}),
             "timer": labels.get("timers", {})} if labels else None
    text = relabel_criteria(str(note), lang, (labels or {}).get("criteria", {}))
    # a note is one sentence a line: its "; " may be an alert's own words
    return "\n".join(retell(line, lang, SYSTEM_NOTES, names, split=None) for line in text.split("\n"))


def relabel_criteria(text: str, lang: str, criteria: "Mapping[str, Mapping[str, str]]") -> str:
    """``text`` naming major-incident criteria as the engine writes them ("many_users: <its
    label>", the label in the writer's language: a note, a major incident's ``criterion``)
    with each label in ``lang``.  ``criteria``: id -> {language: label}."""
    for cid, label in criteria.items():
        for other in {v for k, v in label.items() if k != lang and v and v != label.get(lang)}:
            text = text.replace(f"{cid}: {other}", f"{cid}: {label.get(lang)}")
    return text


AUDIT_FINDINGS = (  # what engine.desk (audit, replay, desklog, checkpoints, export) says of a damaged journal
    N_("event(s) {missing} missing (the ticket records {version} changes)"), N_("event(s) {missing} missing"),
    N_("event {seq} does not follow the event before it"), N_("event {seq} was recorded as event {moved}"),
    N_("event {seq} ({action}) does not match its keyed hash: changed (or inserted) after it was recorded"),
    N_("event {seq} is not in the desk log, but event {last} after it is: inserted after they were sealed"),
    N_("event {seq} was hashed with key '{key}', which the key ring does not have (add the old key to the key file)"),
    N_("{count} event(s) from {seq} on have only the unkeyed SHA-256 chain (written before the keyed journal, "
       "or downgraded by hand): run 'itsm audit rekey'"),
    N_("ticket is in state '{state}' but its journal ends in '{replayed}' (event {seq})"),
    N_("ticket is in state '{state}' but its journal ends in '{replayed}'"),
    N_("the SLA record differs from the one its journal computes (event {seq})"),
    N_("the SLA record differs from the one its journal computes"),
    N_("the stored clock state differs from the one its journal computes (event {seq})"),
    N_("the stored clock state differs from the one its journal computes"),
    N_("{column}: the ticket says {stored}, its journal {derived} (event {seq})"),
    N_("{column}: the ticket says {stored}, its journal {derived}"),
    N_("the links table links it to {target} as '{relation}', its journal does not"),
    N_("its journal links it to {target} as '{relation}' (event {seq}), the links table does not"),
    N_("{count} journal event(s) of ticket id {id}, whose ticket row is gone"),
    N_("ticket {key} is missing: {prefix} keys were handed out up to {last} with no gap"),
    N_("event {seq} was recorded as event {other} of {key}: moved between tickets"),
    N_("process: the ticket says '{process}', its journal '{journal}' (event {seq})"),
    N_("{where}: not JSON"), N_("desk log #{n} missing from the export (the next line is #{next})"),
    N_("desk log #{n} comes after #{prev} in the export"),
    N_("event {seq} follows event {prev} of {key}"),
    N_("{where}: checkpoint #{count} signed {signed} events, the export has {has}: events removed"),
    N_("{where}: checkpoint #{count} signed {signed} sealed events, the desk now has {has}: events removed after it"),
    N_("{where}: the journal up to desk log #{count} differs from what this checkpoint signed"),
    N_("{where}: not an itsm checkpoint line"), N_("{where}: no public key to check it (--public-key, [audit] public_key)"),
    N_("{where}: the signature does not hold (forged or changed, or signed by another key)"),
    N_("{where}: its leaves were changed"), N_("{where}: a checkpoint of another desk ({desk})"),
    N_("{where}: follows #{prev}, but the checkpoint before it is #{last}: lines missing"),
    N_("event {seq} is gone ({at})"), N_("event {seq} differs from what was signed ({at})"),
    N_("event {seq} is at desk log #{n}, beyond its head (#{head}): the head was moved back"),
    N_("event {seq} and {other} both claim desk log #{n}"),
    N_("desk log #{n} is linked with key '{key}', not in the key ring"),
    N_("event {seq} (desk log #{n}) does not match its keyed desk link: changed, moved or renumbered"),
    N_("desk log #{n} was sealed as {before} and now holds {now}: moved to another ticket or renumbered"),
    N_("the desk log's head does not match its last entry #{n}"))


class Said(str):
    """A value put into a message that says itself in each language: the str is English
    (for logs, ``str(exc)`` and ``--json``), :meth:`said` gives it in ``lang``."""

    say: Any = None

    def __new__(cls, english: str, say: Any = None) -> "Said":
        obj = super().__new__(cls, english)
        obj.say = say
        return obj

    def said(self, lang: str) -> str:
        return str(self) if lang == "en" or self.say is None else str(self.say(lang))

    def __reduce__(self) -> Any:  # pickled (a worker process's report) as its English text
        return (str, (str(self),))

    def __copy__(self) -> "Said":  # immutable: a copy is itself (and keeps its languages)
        return self

    def __deepcopy__(self, memo: Any) -> "Said":
        return self


def named(ident: Any, label: Any = None) -> Said:
    """A defined thing (state, action, field, role, code value) by its id in English and by
    its label with the id after it in other languages ("已解决 (resolved)"): the id is what a
    command takes.  ``label``: anything with ``.get(lang)`` (a definition's Label), or a
    function of the language."""
    ident = str(ident)

    def say(lang: str) -> str:
        text = label(lang) if callable(label) else label.get(lang)
        return text if not text or text == ident else f"{text} ({ident})"

    return Said(ident, say if label is not None else None)


def names(items: "Iterable[Any]", sep: str = ", ") -> Said:
    """A list of values (:func:`named` or plain), joined; "none" when empty."""
    items = list(items)
    if not items:
        return Said(N_("none"), lambda lang: tr("none", lang))
    return Said(sep.join(str(i) for i in items),
                lambda lang: ("；" if sep.strip() == ";" else "、").join(str(said(i, lang)) for i in items))


def joined(parts: "Iterable[Any]", empty: Any = None, sep: str = "; ") -> Any:
    """Parts of a report line (each a :func:`message` or plain) joined by ``sep`` ("; " is
    Chinese "；"); ``empty`` when there is none."""
    parts = list(parts)
    if not parts:
        return empty
    return Said(sep.join(str(p) for p in parts),
                lambda lang: ("；" if lang == "zh" and sep == "; " else sep).join(str(said(p, lang)) for p in parts))


def reason(exc: BaseException) -> Said:
    """An error as a value of a message: its English ``message`` (or ``str``), its own words in each language."""
    return Said(str(getattr(exc, "message", exc)), lambda lang: said(exc, lang))


def phrase(label: Any) -> Said:
    """A definition's bilingual text (a Label) as a value of a message."""
    return Said(label.get("en"), label.get)


def message(template: str, /, **values: Any) -> Said:
    """A sentence of the catalogue (``template`` marked with N_) as a value of another
    (a :class:`Said` given alone is returned as it is)."""
    if isinstance(template, Said) and not values:
        return template
    if not values and template.lower() in OS_ERRORS:  # an OSError's strerror
        return Said(template, lambda lang: tr(template.lower(), lang))
    return Said(template.format(**values) if values else template,
                lambda lang: tr(template, lang, **{k: said(v, lang) for k, v in values.items()}))


OS_ERRORS = (  # the operating system's words (OSError.strerror), lower-cased
    N_("no such file or directory"), N_("permission denied"), N_("is a directory"), N_("not a directory"),
    N_("file exists"), N_("connection refused"), N_("name or service not known"), N_("timed out"),
    N_("read-only file system"), N_("no space left on device"), N_("directory not empty"),
    N_("file name too long"))


JSON_PROBLEMS = (  # what Python's json module says of a malformed document (JSONDecodeError.msg)
    N_("Expecting value"), N_("Expecting property name enclosed in double quotes"), N_("Extra data"),
    N_("Unterminated string starting at"), N_("Expecting ',' delimiter"), N_("Expecting ':' delimiter"),
    N_("Invalid control character at"), N_("Invalid \\escape"), N_("Invalid \\uXXXX escape"))


def json_problem(msg: str) -> Said:
    """A JSONDecodeError's ``msg`` as a value of a message, in the reader's language."""
    return Said(msg, lambda lang: tr(msg, lang) if msg in JSON_PROBLEMS else msg)


JINJA_PROBLEMS = (  # what Jinja (and engine.definitions.expression_limits) says of an expression or template
    N_("chunk after expression"), N_("unexpected end of template, expected {expected}."),
    N_("Unexpected end of template. Jinja was looking for the following tags: {tags}. "
       "The innermost block that needs to be closed is {block}."),
    N_("Encountered unknown tag {tag}. Jinja was looking for the following tags: {tags}. "
       "The innermost block that needs to be closed is {block}."),
    N_("Encountered unknown tag {tag}."), N_("expected token {expected}, got {got}"),
    N_("unexpected char {char} at {pos}"), N_("unexpected {token}"), N_("no filter named {name}"),
    N_("no test named {name}"), N_("{obj} has no attribute {attr}"), N_("{name} is undefined"),
    N_("tag name expected"), N_("expected name or number"),
    N_("the result of ** would have more than {limit} bits"), N_("the result of * would have more than {limit} bits"),
    N_("the result would have more than {limit} bits"), N_("the result would have more than {limit} items"),
    N_("the work would be more than {limit} steps"), N_("{what} would have more than {limit} items"))


def jinja_problem(msg: Any) -> Said:
    """What Jinja says of an expression or template (an exception's message), in the
    reader's language where its shape is known (JINJA_PROBLEMS), else as it is."""
    text = str(msg)
    return Said(text, lambda lang: retell(text, lang, JINJA_PROBLEMS))


def said(value: Any, lang: str) -> Any:
    """``value`` as a message shows it in ``lang``: a :class:`Said` or an error (anything with
    ``said``/``text(lang)``) in that language, an operating-system error by its known words."""
    if lang == "en":
        return value
    say = getattr(value, "said", None)
    if callable(say):
        return say(lang)
    if isinstance(value, BaseException) and value.args and isinstance(value.args[0], Said):
        return value.args[0].said(lang)
    if isinstance(value, OSError) and value.strerror:
        known = value.strerror.lower()
        text = tr(known, lang) if known in OS_ERRORS else value.strerror
        return f"{text}: {value.filename!r}" if value.filename is not None else text
    return value


def tick_kind(kind: str, lang: str) -> str:
    return tr(TICK_KINDS[kind], lang) if kind in TICK_KINDS else kind


_TICK_LABELS = {"warning": "clocks", "breach": "clocks", "sla": "clocks", "timer": "timers", "remind": "timers"}


def tick_name(line: "Mapping[str, Any]", labels: "Mapping[str, Mapping[str, str]] | None") -> str:
    """A tick line's SLA clock or timer by its label (``labels``: engine.desk.forms.event_labels,
    ``clocks`` and ``timers``); anything else by its name."""
    name = str(line["name"])
    return (labels or {}).get(_TICK_LABELS.get(line["kind"], ""), {}).get(name, name)


# Placeholders that only ever hold an id or a number (an action, a ticket key, a state, a
# clock, a timer, a count): in a recorded text they match no space, so a free text around
# them ("Rate of errors high") is never taken for their shape ("{action} of {key}").
ID_SLOTS = frozenset({"action", "key", "state", "clock", "timer", "candidate", "count", "total"})


def _shape(template: str) -> "re.Pattern[str]":
    import re

    parts = re.split(r"\{(\w+)\}", template)
    return re.compile("".join(re.escape(p) if i % 2 == 0 else
                              f"(?P<{p}>[^\\s;]+?)" if p in ID_SLOTS else f"(?P<{p}>.+?)"
                              for i, p in enumerate(parts)))


_SHAPES: dict[str, "re.Pattern[str]"] = {}


def retell(text: str, lang: str, templates: tuple[str, ...] = TICK_OUTCOMES,
           names: "Mapping[str, Mapping[str, str]] | None" = None, split: str | None = "; ",
           nested: "Mapping[str, tuple[str, ...]] | None" = None) -> str:
    """An English text recorded from ``templates`` (parts joined by ``split``: "; ";
    None: one part), said in ``lang``; a part of no known shape stays as it is.
    ``names`` shows the values of a placeholder by their labels (e.g. ``{"state":
    {"in_progress": "处理中"}}``); ``nested`` retells the value of a placeholder from
    templates of its own (a refusal's reason).  A :class:`Said` (a line of a live
    report) says itself."""
    if isinstance(text, Said):
        return text.said(lang)
    if (lang == "en" and not names) or not text:
        return text
    out = []
    for part in (text.split(split) if split else [text]):
        for template in templates:
            shape = _SHAPES.setdefault(template, _shape(template))
            found = shape.fullmatch(part)
            if found is not None:
                values = {k: (names or {}).get(k, {}).get(v, v) for k, v in found.groupdict().items()}
                for k, inner in (nested or {}).items():
                    if k in values:
                        values[k] = retell(values[k], lang, inner, names, split=None)
                out.append(tr(template, lang, **values))
                break
        else:
            out.append(part)
    return ("；" if lang == "zh" else "; ").join(out)
