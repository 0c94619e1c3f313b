"""Random expressions built to blow up, for tests/test_expression_bounds.py.

Run in a child process whose address space is limited (a missing bound must fail
the test with a MemoryError, not take the machine's memory): ``main(examples)``.

Each case pipes an adversarial value (strings and lists at the size limit, lists
of references to one large string, many lines, wide characters, big integers)
through one to four filters or operators with adversarial arguments. Whatever
happens must be an ExpressionError or a value of size at most MAX_SIZE, within a
second or two; and where a filter's output was estimated before it ran, the
estimate must not be below what the filter really makes.
"""

from __future__ import annotations

import inspect
import os
import time
import tracemalloc
from typing import Any

from hypothesis import HealthCheck, given, settings, strategies as st

from engine.definitions import expression_limits as limits
from engine.definitions.expressions import ExpressionError, _env, compile_expression

MAX = limits.MAX_SIZE
VALUES = {
    "big": "a b-c\n" * (MAX // 6),
    "wide": "\U0001f600\x00" * (MAX // 2),
    "lines": "\n" * (MAX - 1),
    "words": "ab " * (MAX // 3),
    "url": "see https://example.com/x " * (MAX // 30),
    "chars": ["x"] * (MAX // 2 - 1),
    "nested": [[1, [2, ["three"]]]] * 1000,
    "mapping": {f"k{i}": "v" * 90 for i in range(900)},
    "number": 2 ** 4000,
    "small": "Mail down",
    "items": list(range(50)),
}
NAMES = sorted(VALUES)
ARGS = ["'y' * 100000", "'y' * 1000", "'\\n'", "''", "99999", "100000", "2", "0", "-1", "none",
        "true", "'%s'", "'%s' * 30000", "'%(k1)s' * 20000", "big", "chars", "small", "[big] * 3",
        "number", "items"]
FILTERS = sorted(_env().filters)
OPERATORS = ["* 3", "* 100000", "+ big", "~ big", "~ small", "% big", "% (big, big)", "in big"]


def step() -> st.SearchStrategy[str]:
    filters = st.tuples(st.sampled_from(FILTERS), st.lists(st.sampled_from(ARGS), max_size=3),
                        st.sampled_from(["", "wrapstring", "width", "start", "indent", "end",
                                         "target", "fill_with", "d"])).map(_filter)
    return st.one_of(filters, filters, filters, st.sampled_from(OPERATORS).map(lambda o: " " + o))


def _filter(t: tuple[str, list[str], str]) -> str:
    name, args, keyword = t
    if keyword and args:
        args = [*args[:-1], f"{keyword}={args[-1]}"]
    return f"|{name}({', '.join(args)})" if args else f"|{name}"


CASES = st.tuples(st.sampled_from(NAMES + ["[" + ", ".join(["big"] * 3) + "]", "(small, small)"]),
                  st.lists(step(), min_size=1, max_size=4))


def expression(case: tuple[str, list[str]]) -> str:
    head, steps = case
    source = f"({head})"
    for s in steps:
        source = f"({source}{s})"
    return source


def check_case(case: tuple[str, list[str]]) -> None:
    source = expression(case)
    try:
        compiled = compile_expression(source)
    except ExpressionError:
        return  # refused when compiling: lint's E001
    tracemalloc.start()
    started = time.perf_counter()
    try:
        value = compiled.evaluate(dict(VALUES))
        if isinstance(value, limits.Budgeted):
            value = list(value)
    except ExpressionError:
        value = None
    finally:
        seconds = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert value is None or limits.size(value) <= MAX or value is VALUES.get(case[0]), source
    assert seconds < 10, f"{source}: {seconds:.1f} s (memory tracing on)"
    assert peak < 150 * 2**20, f"{source}: {peak / 2**20:.0f} MiB"


# the estimates against the filters themselves, on arguments that reach them
ORIGINALS = {name: getattr(__import__("jinja2.filters").filters, f"do_{name}") for name in limits.ESTIMATES}
TEXTS = st.one_of(st.text(max_size=300), st.sampled_from(["a\n\nb\r\nc", "x" * 500, "a " * 200,
                                                           "see www.example.com and a@b.org " * 10]))


@st.composite
def estimate_cases(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    name = draw(st.sampled_from(["join", "wordwrap", "indent", "replace", "urlize", "tojson", "format"]))
    text = draw(TEXTS)
    small = st.one_of(st.text(max_size=20), st.sampled_from(["", "\n", "--", "\U0001f600"]))
    if name == "join":
        args = {"value": draw(st.lists(st.one_of(small, st.integers(), st.floats(allow_nan=False),
                                                 st.lists(small, max_size=3), st.none()), max_size=30)),
                "d": draw(small)}
    elif name == "wordwrap":
        args = {"s": text, "width": draw(st.integers(1, 100)), "break_long_words": draw(st.booleans()),
                "wrapstring": draw(st.one_of(st.none(), small))}
    elif name == "indent":
        args = {"s": text, "width": draw(st.one_of(st.integers(0, 50), small)),
                "first": draw(st.booleans()), "blank": draw(st.booleans())}
    elif name == "replace":
        args = {"s": text, "old": draw(small), "new": draw(small), "count": draw(st.one_of(st.none(), st.integers(0, 5)))}
    elif name == "urlize":
        args = {"value": text, "target": draw(st.one_of(st.none(), small)),
                "rel": draw(st.one_of(st.none(), small)), "nofollow": draw(st.booleans())}
    elif name == "tojson":
        nested = st.recursive(st.one_of(small, st.integers(), st.none()),
                              lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                      st.dictionaries(small, inner, max_size=4)), max_leaves=20)
        args = {"value": draw(nested), "indent": draw(st.one_of(st.none(), st.integers(0, 8)))}
    else:
        template = draw(st.sampled_from(["%s", "%s-%s", "%r %5s", "%(a)s%(a)s", "x%%y%s", "%-10s|"]))
        args = {"value": template, "args": tuple(draw(st.lists(small, min_size=2, max_size=2))),
                "kwargs": {"a": draw(small)} if "(a)" in template else {}}
    return name, args


def check_estimate(case: tuple[str, dict[str, Any]]) -> None:
    name, args = case
    estimate = limits.ESTIMATES[name](dict(args))
    original = ORIGINALS[name]
    params = inspect.signature(original).parameters
    lead = []
    if "eval_ctx" in params:
        from jinja2.nodes import EvalContext

        lead = [EvalContext(_env())]
    elif "environment" in params:
        lead = [_env()]
    kwargs = dict(args)
    rest, extra = kwargs.pop("args", ()), kwargs.pop("kwargs", {})
    try:
        if name == "format":
            out = original(kwargs["value"], *([] if extra else rest), **extra)
        else:
            out = original(*lead, **kwargs)
    except (TypeError, ValueError, KeyError):
        return
    assert len(str(out)) <= estimate, (name, args, len(str(out)), estimate)


def main(examples: int) -> None:
    common = dict(deadline=None, database=None, derandomize=os.environ.get("ITSM_FUZZ_RANDOM") != "1",
                  suppress_health_check=list(HealthCheck))
    given(case=CASES)(settings(max_examples=examples, **common)(check_case))()
    given(case=estimate_cases())(settings(max_examples=examples, **common)(check_estimate))()
    print("ok")
