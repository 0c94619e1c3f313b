"""JSON Schema validation of definition documents (the only importer of jsonschema).

Schema errors come back as :class:`DefinitionError` values pointing at the file,
line and column of the offending node, with the key path and, for unknown keys,
a did-you-mean.
"""

from __future__ import annotations

import difflib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

from engine.errors import DefinitionError
from engine.i18n import N_, Said, message, names, tr
from engine.definitions.loader import Document, format_path

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"


def schema_path(name: str) -> Path:
    return SCHEMA_DIR / f"{name}.schema.json"


def schema_names() -> list[str]:
    return sorted(p.name[: -len(".schema.json")] for p in SCHEMA_DIR.glob("*.schema.json")
                  if p.name != "common.schema.json")


_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "$defs", "dependentSchemas"})
_DATA = frozenset({"$ref", "const", "enum", "default", "examples"})  # instance values, not schemas
_ANNOTATIONS = frozenset({"description", "title", "default", "examples", "markdownDescription",
                          "$comment", "deprecated"})


def _inline(node: Any, here: str, docs: dict[str, Any], stack: tuple[str, ...] = ()) -> Any:
    """The schema with every ``$ref`` replaced by its target (refs name a file of
    SCHEMA_DIR and/or a JSON pointer).  jsonschema resolves a ``$ref`` through the
    registry each time an instance node meets it, which was most of the time of
    validating a large process; inlined once, validation only walks dicts.  A
    recursive reference stays a ``$ref`` (resolved through the registry)."""
    if isinstance(node, list):
        return [_inline(v, here, docs, stack) for v in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str):
        file, _, pointer = ref.partition("#")
        file = file or here
        key = f"{file}#{pointer}"
        if key not in stack and file in docs:
            target: Any = docs[file]
            for part in (p for p in pointer.split("/") if p):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            resolved = _inline(target, file, docs, stack + (key,))
            rest = {k: v for k, v in node.items() if k != "$ref"}
            if not rest:
                return resolved
            if set(rest) <= _ANNOTATIONS and isinstance(resolved, dict):
                return {**rest, **resolved}  # errors describe the target, as before inlining
            return {**{k: _inline(v, here, docs, stack) for k, v in rest.items()}, "allOf": [resolved]}
        if file != here:  # a recursive ref into another file: make it absolute for the registry
            node = dict(node, **{"$ref": (SCHEMA_DIR / file).resolve().as_uri() + "#" + pointer})
    out = {}
    for k, v in node.items():
        if k in _SCHEMA_MAPS and isinstance(v, dict):  # name -> schema: names are not keywords
            out[k] = {name: _inline(sub, here, docs, stack) for name, sub in v.items()}
        elif k in _DATA:
            out[k] = v
        else:
            out[k] = _inline(v, here, docs, stack)
    return out


@lru_cache(maxsize=None)
def _validator(name: str) -> Any:
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    docs: dict[str, Any] = {}
    resources = []
    for path in SCHEMA_DIR.glob("*.schema.json"):
        contents = json.loads(path.read_text(encoding="utf-8"))
        docs[path.name] = contents
        resources.append((path.resolve().as_uri(), Resource.from_contents(contents)))
    registry: Registry = Registry().with_resources(resources)
    schema = _inline(docs[schema_path(name).name], schema_path(name).name, docs)
    schema.pop("$id", None)  # relative refs left (recursion) are absolute now
    return Draft202012Validator(schema, registry=registry)


def _quoting(node: dict[str, Any]) -> bool:
    """Whether a finding about this schema node quotes its description."""
    return any(k in node for k in ("pattern", "oneOf", "anyOf", "not"))


def quoted_descriptions() -> list[tuple[str, str]]:
    """(description, schema file) of every schema node whose description a finding
    quotes (tools/i18n.py puts them in the catalogue, so they are said in Chinese too)."""
    out: dict[str, str] = {}

    def walk(node: Any, file: str) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("description"), str) and _quoting(node):
                out.setdefault(node["description"], file)
            for k, v in node.items():
                if k != "description":
                    walk(v, file)
        elif isinstance(node, list):
            for v in node:
                walk(v, file)

    for name in schema_names():  # as validated: $refs inlined (a target's description wins)
        walk(_validator(name).schema, schema_path(name).name)
    return list(out.items())


def _description(schema: dict[str, Any]) -> Said:
    """A schema node's description, in the reader's language (quoted_descriptions)."""
    text = str(schema["description"])
    return Said(text, lambda lang: tr(text, lang))


_TYPE_NAMES = {dict: N_("a mapping"), list: N_("a list"), str: N_("a string"), bool: N_("a boolean"),
               int: N_("an integer"), float: N_("a number"), type(None): N_("nothing (null)")}
JSON_TYPES = {"object": N_("object"), "array": N_("array"), "string": N_("string"), "boolean": N_("boolean"),
              "integer": N_("integer"), "number": N_("number"), "null": N_("null")}


def _type_name(value: Any) -> str:
    name = _TYPE_NAMES.get(type(value))
    return message(name) if name else type(value).__name__


def _json_type(name: Any) -> Any:
    return message(JSON_TYPES[name]) if name in JSON_TYPES else name


def _leaf_errors(error: Any) -> Iterable[Any]:
    """For oneOf/anyOf, descend to the most relevant alternative."""
    from jsonschema.exceptions import best_match

    if error.context:
        # prefer the alternative whose type matched: its error is the real problem
        typed = [e for e in error.context if e.validator not in ("type", "const")]
        best = best_match(typed or error.context)
        if best is not None and best.validator not in ("oneOf", "anyOf", "const"):
            yield from _leaf_errors(best)
            return
    yield error


def _message(error: Any, doc: Document) -> tuple[str, tuple[str | int, ...], bool]:
    """(message, path, point at key?) for one jsonschema error."""
    path = tuple(error.absolute_path)
    v, inst, schema = error.validator, error.instance, error.schema
    if "propertyNames" in error.relative_schema_path and isinstance(inst, str) and v == "not":
        why = message(N_(": {description}"), description=_description(schema)) if schema.get("description") else ""
        return message(N_("key '{inst}' is reserved here{why}"), inst=inst, why=why), path + (inst,), True
    if "propertyNames" in error.relative_schema_path and isinstance(inst, str):
        if v == "pattern" and schema.get("description") and error.validator_value != "^[a-z][a-z0-9_]*$":
            return message(N_("key '{inst}' is not valid: {description}"),
                           inst=inst, description=_description(schema)), path + (inst,), True
        return (message(N_("key '{inst}' is not a valid id (lower_snake_case, starting with a letter)"),
                        inst=inst),
                path + (inst,), True)
    if v == "additionalProperties" and isinstance(inst, dict):
        known = sorted((schema.get("properties") or {}).keys())
        extra = [k for k in inst if k not in known and not _matches_patterns(k, schema)]
        if extra:
            key = extra[0]
            close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
            hint = message(N_("; did you mean '{name}'?"), name=close[0]) if close else (
                message(N_("; allowed here: {keys}"), keys=", ".join(known)) if known else "")
            return message(N_("unknown key '{key}'{hint}"), key=key, hint=hint), path + (key,), True
    if v == "required":
        missing = [k for k in error.validator_value if isinstance(inst, dict) and k not in inst]
        return message(N_("missing required key '{value}'"),
                       value=missing[0] if missing else error.validator_value), path, False
    if v == "type":
        want = error.validator_value
        want = message(N_("{one} or {other}"), one=names([_json_type(w) for w in want[:-1]], " or "),
                       other=_json_type(want[-1])) if isinstance(want, list) and len(want) > 1 else \
            _json_type(want[0] if isinstance(want, list) else want)
        return message(N_("expected {want}, got {type_name}"),
                       want=want, type_name=_type_name(inst)), path, False
    if v == "enum":
        choices = [str(c) for c in error.validator_value]
        close = difflib.get_close_matches(str(inst), choices, n=1, cutoff=0.6)
        hint = message(N_("; did you mean '{name}'?"), name=close[0]) if close else ""
        return message(N_("'{inst}' is not one of: {choices}{hint}"),
                       inst=inst, choices=', '.join(choices), hint=hint), path, False
    if v == "const":
        return message(N_("expected '{validator_value}', got '{inst}'"),
                       validator_value=error.validator_value, inst=inst), path, False
    if v == "pattern":
        desc = _description(schema) if schema.get("description") else \
            message(N_("must match {pattern}"), pattern=error.validator_value)
        return message(N_("'{inst}' is not valid: {desc}"), inst=inst, desc=desc), path, False
    if v == "propertyNames":
        return message(N_("key '{inst}' is not a valid id (lower_snake_case, starting with a letter)"),
                       inst=inst), \
            path + (str(inst),), True
    if v in ("minItems", "minProperties"):
        return message(N_("must not be empty")), path, False
    if v == "uniqueItems":
        return message(N_("has duplicate entries")), path, False
    limit = error.validator_value
    if v in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"):
        return message({"minimum": N_("{inst} is less than the minimum, {limit}"),
                        "maximum": N_("{inst} is more than the maximum, {limit}"),
                        "exclusiveMinimum": N_("{inst} must be more than {limit}"),
                        "exclusiveMaximum": N_("{inst} must be less than {limit}"),
                        "multipleOf": N_("{inst} is not a multiple of {limit}")}[v],
                       inst=inst, limit=limit), path, False
    if v == "minLength":
        return (message(N_("must not be empty")) if limit == 1 else
                message(N_("is too short: at least {limit} characters"), limit=limit)), path, False
    if v == "maxLength":
        return message(N_("is too long: at most {limit} characters"), limit=limit), path, False
    if v in ("maxItems", "maxProperties"):
        return message(N_("has too many entries: at most {limit}"), limit=limit), path, False
    if v == "format":
        return message(N_("'{inst}' is not a valid {format}"), inst=inst, format=limit), path, False
    if v == "not":
        return message(N_("{kind} is not allowed here"), kind=_type_name(inst)), path, False
    if v == "anyOf" and schema.get("description"):
        return (message(N_("{kind} is not valid here: {description}"), kind=_type_name(inst),
                        description=_description(schema)), path, False)
    if v == "oneOf":
        if not schema.get("description"):
            return message(N_("{kind} is not valid here"), kind=_type_name(inst)), path, False
        return (message(N_("{kind} is not valid here: {description}"), kind=_type_name(inst),
                        description=_description(schema)), path, False)
    return error.message, path, False  # a rare kind: jsonschema's own (English) words


def _matches_patterns(key: str, schema: dict[str, Any]) -> bool:
    import re

    return any(re.search(p, key) for p in (schema.get("patternProperties") or {}))


def validate(doc: Document, schema: str) -> list[DefinitionError]:
    """All schema problems of ``doc`` against the named schema, in file order."""
    validator = _validator(schema)
    problems: list[DefinitionError] = []
    seen: set[tuple[Any, ...]] = set()
    for top in validator.iter_errors(doc.data):
        for error in _leaf_errors(top):
            message, path, at_key = _message(error, doc)
            mark = doc.mark(path, key=at_key)
            key = (mark.line, mark.column, message)
            if key in seen:
                continue
            seen.add(key)
            problems.append(DefinitionError(message, file=doc.file, line=mark.line,
                                            column=mark.column, path=format_path(path) or None,
                                            rule="schema"))
    problems.sort(key=lambda p: (p.line or 0, p.column or 0))
    return problems
