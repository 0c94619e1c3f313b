"""Message templates are bounded (issue #20, item 5): the size of every value
and of the output, and the work (loop iterations, calls, filters) of each part.

A template that would build gigabytes or run for hours is a TemplateProblem
(the message's failed attempt, tests/notify/test_poison.py) within seconds and
without a MemoryError: each such template renders in a child process with a
deadline and an address-space limit, so that unbounded code fails the test
instead of hanging it or the machine.  Ordinary templates render as before.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from engine.notify.templates import MAX_CHARS, Rendered, TemplateProblem, render

REPO = Path(__file__).resolve().parents[2]
DEADLINE = 30  # seconds; a bounded template takes well under one
MEMORY = 1 << 30  # bytes of address space for the child: far below what unbounded templates take

CHILD = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from engine.notify.templates import TemplateProblem, render
    home, context = sys.argv[1], json.loads(sys.argv[2])
    try:
        r = render(Path(home), "t", "en", context)
    except TemplateProblem as exc:
        print(json.dumps({"problem": exc.message}))
    except BaseException as exc:
        print(json.dumps({"other": f"{type(exc).__name__}: {str(exc)[:300]}"}))
    else:
        print(json.dumps({"rendered": len(r.subject) + len(r.text)}))
""")


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def home_with(tmp_path: Path, text: str, html: str | None = None) -> Path:
    folder = tmp_path / "processes" / "templates" / "en"
    folder.mkdir(parents=True)
    (folder / "t.txt").write_text(text, encoding="utf-8")
    if html is not None:
        (folder / "t.html").write_text(html, encoding="utf-8")
    return tmp_path


def render_in_child(home: Path, context: dict[str, Any]) -> dict[str, Any]:
    import json

    try:
        done = subprocess.run([sys.executable, "-c", CHILD, str(home), json.dumps(context)], cwd=str(REPO),
                              capture_output=True, text=True, timeout=DEADLINE, preexec_fn=_limit_memory)
    except subprocess.TimeoutExpired:
        pytest.fail(f"rendering took more than {DEADLINE} s: the template's work is unbounded")
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


BIG = "{% set big = 'x' * 999999 %}"
COSTLY = {
    "repeat": ("{{ 'x' * 100000000 }}", "the result would have more than 1000000 items"),
    "nested-loops": ("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
                     "more than 100000 steps"),
    "loop-output": ("{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}",
                    "the message would be longer than 1000000 characters"),
    "set-block": ("{% set s %}{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}{% endset %}{{ s|length }}",
                  "the message would be longer than 1000000 characters"),
    "macro-output": ("{% macro m() %}{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}{% endmacro %}"
                     "{{ m()|length }}", "the message would be longer than 1000000 characters"),
    "two-big-outputs": (BIG + "{{ big }}{{ big }}", "the message would be longer than 1000000 characters"),
    "concat": (BIG + "{{ (big ~ big)|length }}", "the result would have more than 1000000 items"),
    "doubling-macro": ("{% macro d(s, n) %}{% if n %}{{ d(s ~ s, n - 1) }}{% endif %}{% endmacro %}{{ d('ab', 64) }}",
                       "the result would have more than 1000000 items"),
    "doubling-namespace": ("{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}"
                           "{% endfor %}{{ ns.s|length }}", "the result would have more than 1000000 items"),
    "join-filter": (BIG + "{{ ([big] * 1000)|join|length }}", "the result would have more than 1000000 items"),
    "join-attribute": (BIG + "{{ ([{'a': big}] * 1000)|join(attribute='a')|length }}",
                       "the result would have more than 1000000 items"),
    "join-method": (BIG + "{{ ''.join([big] * 1000)|length }}", "the result would have more than 1000000 items"),
    "sum-of-lists": ("{{ ([[0] * 10000] * 1000)|sum(start=[])|length }}",
                     "the result would have more than 1000000 items"),
    "ljust": ("{{ 'x'.ljust(1000000000) }}", "the result would have more than 1000000 items"),
    "str-format-width": ("{{ '{:>999999999}'.format(1) }}", "the result would have more than 1000000 items"),
    "str-format-fields": (BIG + "{{ '{0}{0}{0}{0}{0}{0}{0}{0}'.format(big)|length }}",
                          "the result would have more than 1000000 items"),
    "percent-fields": (BIG + "{{ ('%s%s%s%s%s%s%s%s' % (big, big, big, big, big, big, big, big))|length }}",
                       "the result would have more than 1000000 items"),
    "replace-method": (BIG + "{{ big.replace('x', 'yy')|length }}", "the result would have more than 1000000 items"),
    "indent": ("{{ ('a\\n' * 500000)|indent(1000000)|length }}", "the result would have more than 1000000 items"),
    "indent-string": ("{{ ('a\\n' * 500000)|indent('x' * 1000)|length }}",
                      "the result would have more than 1000000 items"),
    "wordwrap": ("{{ ('a ' * 400000)|wordwrap(1, wrapstring='x' * 100000)|length }}",
                 "the result would have more than 1000000 items"),
    "batch": ("{{ range(10)|batch(1000000000, 'x')|list|length }}", "the result would have more than 1000000 items"),
    "urlize": ("{{ ('a.co ' * 100000)|urlize(target='x' * 100000)|length }}", "urlize: an argument larger than 200"),
    "tojson": ("{{ ([[1]] * 100000)|tojson(indent=1000000)|length }}", "tojson: an argument larger than 16"),
    "list-extend": ("{% set l = [1] %}{% for i in range(64) %}{{ l.extend(l) }}{% endfor %}", "unsafe"),
    "lipsum": ("{{ lipsum(100000000, max=100000)|length }}", "'lipsum' is undefined"),
    "repeat-in-loop": ("{% for i in range(100000) %}{% set x = 'y' * 999999 %}{% endfor %}",
                       "more than 100000 steps"),
    "slice-in-loop": (BIG + "{% for i in range(100000) %}{% set x = big[1:] %}{% endfor %}",
                      "more than 100000 steps"),
    "scan-in-loop": (BIG + "{% for i in range(100000) %}{{ big.count('y') }}{{ big|wordcount }}{% endfor %}",
                     "more than 100000 steps"),
    "recursive-loop": ("{% for x in range(100) recursive %}{% if loop.depth < 5 %}{{ loop(range(100)) }}"
                       "{% endif %}{% endfor %}", "more than 100000 steps"),
    "macro-recursion": ("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", "RecursionError"),
    "include-itself": ("x{% include 't.txt' %}", "RecursionError"),
}


@pytest.mark.parametrize("source, phrase", COSTLY.values(), ids=list(COSTLY))
def test_a_costly_template_is_refused_quickly_and_without_memory_error(tmp_path, source, phrase):
    result = render_in_child(home_with(tmp_path, "Subject\n\n" + source), {})
    assert "problem" in result, result
    assert result["problem"].startswith("template en/t: "), result
    assert phrase in result["problem"], result


def test_the_html_part_is_bounded_too(tmp_path):
    home = home_with(tmp_path, "Subject\n\nbody", "{% for i in range(100000) %}{{ '<' * 1000 }}{% endfor %}")
    result = render_in_child(home, {})
    assert "longer than 1000000 characters" in result.get("problem", ""), result


@pytest.mark.parametrize("source, phrase", [
    ("{{ ticket.assignee + 1 }}", "TypeError: unsupported operand type(s) for +: 'NoneType' and 'int'"),
    ("{{ 1 // (ticket.n - ticket.n) }}", "ZeroDivisionError"),
    ("{{ ticket.missing }}", "'dict object' has no attribute 'missing'"),
    ("{{ ticket.title.encode('ascii') }}", "UnicodeEncodeError"),
    ("{{ '%d' % ticket.title }}", "TypeError"),
])
def test_any_error_of_a_template_is_a_template_problem(tmp_path, source, phrase):
    home = home_with(tmp_path, "Subject\n\n" + source)
    with pytest.raises(TemplateProblem) as info:
        render(home, "t", "en", {"ticket": {"assignee": None, "n": 3, "title": "é"}})
    assert info.value.message.startswith("template en/t: ") and phrase in info.value.message, info.value.message


# --- what stays possible ---------------------------------------------------------------------

def test_a_large_report_renders(tmp_path):
    """A KPI report mailed by `itsm tick` carries its HTML in the payload: hundreds
    of kilobytes go through, as long as the message stays under MAX_CHARS."""
    html = "<table>" + "<tr><td>INC-000001</td><td>P2</td></tr>" * 15_000 + "</table>"
    assert 500_000 < len(html) < MAX_CHARS
    home = home_with(tmp_path, "{{ event.title }}\n\n{{ note }}", "<div>{{ event.html|safe }}</div>")
    r = render(home, "t", "en", {"event": {"title": "Weekly", "html": html}, "note": "See the table"})
    assert r == Rendered("Weekly", "See the table", f"<div>{html}</div>")


def test_ordinary_templates_work_as_before(tmp_path):
    source = """{{ ticket.key }}: {{ ticket.title|truncate(20, false, "…", 0) }}

{% for t in ticket.linked if t.open %}{{ loop.index }}/{{ loop.length }} {{ t.key }}{{ "," if not loop.last }}
{% endfor %}{% set ns = namespace(n=0) %}{% for i in range(1000) %}{% set ns.n = ns.n + i %}{% endfor %}sum {{ ns.n }}
{{ ticket.linked|join(", ", attribute="key") }} | {{ [1, 2, 3]|sum }} | {{ '{:>5}'.format('a') }} | {{ '%05d' % 7 }}
{{ "a-b".replace("-", " ") }} | {{ ", ".join(["x", "y"]) }} | {{ ("a" ~ "b")|upper }} | {{ "x" * 3 }}
{% for k, v in {"b": 2, "a": 1}|dictsort %}{{ k }}={{ v }} {% endfor %}
{% macro box(label) %}[{{ label }}: {{ caller() }}]{% endmacro %}{% call box("note") %}inside{% endcall %}
{% for node in tree recursive %}{{ node.name }}{% if node.children %}({{ loop(node.children) }}){% endif %}{% endfor %}
"""
    ticket = {"key": "INC-000042", "title": "The claims system is down for everyone",
              "linked": [{"key": "INC-1", "open": True}, {"key": "INC-2", "open": False},
                         {"key": "INC-3", "open": True}]}
    tree = [{"name": "a", "children": [{"name": "b", "children": []}, {"name": "c", "children": []}]}]
    r = render(home_with(tmp_path, source), "t", "en", {"ticket": ticket, "tree": tree})
    assert r.subject == "INC-000042: The claims system…"
    assert r.text.splitlines() == [
        "1/2 INC-1,", "2/2 INC-3", "sum 499500", "INC-1, INC-2, INC-3 | 6 |     a | 00007",
        "a b | x, y | AB | xxx", "a=1 b=2 ", "[note: inside]", "a(bc)"]


def test_html_is_still_escaped(tmp_path):
    home = home_with(tmp_path, "S\n\nt", "<p>{{ note }}{{ '<b>' ~ note }}{% set s %}{{ note }}{% endset %}{{ s }}</p>")
    assert render(home, "t", "en", {"note": "<i>"}).html == "<p>&lt;i&gt;&lt;b&gt;&lt;i&gt;&lt;i&gt;</p>"


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c", "\x00", "\t", "\r"])
def test_the_subject_is_one_clean_line(tmp_path, separator):
    home = home_with(tmp_path, "{{ title }}  end\n\nbody")
    r = render(home, "t", "en", {"title": f"Printer{separator}{separator}broken "})
    assert r.subject == "Printer broken end"


def test_a_long_subject_is_cut_to_the_header_line_limit(tmp_path):
    r = render(home_with(tmp_path, "{{ 'word ' * 1000 }}\n\nbody"), "t", "en", {})
    assert len(r.subject) == 998 and r.subject.endswith("…")
