"""Errors and refusals in Chinese (#23.1).

* A broad set of failing commands run with ``--lang zh`` on one scratch desk (usage
  errors of click and of itsm, unknown ticket / user / process / code value, refused
  actions: wrong role, wrong state, missing field, guard; a concurrent change, bad
  settings, a definition that does not parse or lint, an unsupported or missing
  database): each says what is wrong in Chinese (no two English words in a row once
  ids and data are taken out), with the exit code of the contract.
* Refusals name states, actions, fields, roles and code values by their labels, the
  id after them (what a command takes); ``--json`` keeps the English message and ids.
* Every message an error is raised with is a catalogue template (``N_``-marked, values
  apart), found by an AST scan of engine/, commands/ and cli.py: a new English-only
  error fails here.
"""

from __future__ import annotations

import ast
import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from test_zh_complete import _english

from tests_conftest import CLEARED_ENV, DISPLAY_TZ, REPO, TEST_AUDIT_KEY, Itsm, _cli, add_people, isolate

AGENT, DESKTOP, REPORTER = "wang.lei", "chen.jie", "li.na@example.com"


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One SQLite desk with the bundled definitions, the people of the tests and two incidents:
    INC-000001 new, INC-000002 resolved; plus a copy of the definitions that does not parse and
    one that does not lint."""
    base = tmp_path_factory.mktemp("zh-errors")
    with pytest.MonkeyPatch.context() as mp:
        isolate(mp, base / "cache")
        itsm = Itsm(f"sqlite:///{base}/itsm.db")
        add_people(itsm)
        for n in (1, 2):
            itsm("new", "incident", "--title", f"VPN down {n}", "--reporter", REPORTER, "--urgency", "high",
                 "--impact", "medium", "--service", "network", user=AGENT)
        itsm("do", "INC-000002", "resolve", "--set", "solution=Reset the token", "--set", "closure_code=solved",
             "--set", "service_restored=true", user=AGENT)
    for name, damage in (("broken", lambda t: "id: incident\n  bad: [\n"),
                         ("unlinted", lambda t: t.replace("\ntitle:", "\ntitel:", 1)),
                         ("undefined", lambda t: t.replace("requires: [solution, closure_code, service_restored]",
                                                           "requires: [solution, closure_code, service_restored, nofield]",
                                                           1))):
        home = base / name
        shutil.copytree(REPO / "processes", home / "processes")
        shutil.copytree(REPO / "codes", home / "codes")
        path = home / "processes" / "incident.yaml"
        path.write_text(damage(path.read_text(encoding="utf-8")), encoding="utf-8")
    (base / "lines.jsonl").write_text('{"do": "frobnicate", "key": "INC-000001"}\nnot json\n[1]\n{"x": 1}\n'
                                      '{"comment": "INC-000001"}\n', encoding="utf-8")
    return {"base": base, "db": itsm.db}


# (argv after the global options, exit code, options: user, env, db, home, a fragment the message has)
CASES: list[tuple[list[str], int, dict[str, Any]]] = [
    # click's usage errors
    (["show"], 2, {"has": "缺少参数"}),
    (["frob"], 2, {"has": "没有命令"}),
    (["list", "--limt", "3"], 2, {"has": "没有选项"}),
    (["list", "--limit", "abc"], 2, {"has": "的值无效"}),
    (["show", "A", "B", "C"], 2, {"has": "多出了参数"}),
    (["report", "--format", "xml"], 2, {}),
    (["--json-please", "show", "INC-000001"], 2, {"has": "没有选项"}),
    # itsm's own usage errors
    (["do", "INC-000001", "assign", "--set", "groupdesktop"], 2, {"has": "字段=值"}),
    (["comment", "INC-000001", ""], 2, {"has": "备注需要填写内容"}),
    (["--now", "yesterday", "show", "INC-000001"], 2, {"has": "ISO 8601"}),
    (["--now", "2020-01-01T00:00:00+08:00", "comment", "INC-000001", "hello"], 2, {"has": "日志只能向前推进"}),
    (["link", "INC-000001", "INC-000001"], 2, {"has": "不能与自身关联"}),
    (["comment", "INC-000001", "hello"], 2, {"user": None, "has": "谁在操作"}),
    # not found
    (["show", "NOPE-1"], 4, {"has": "没有工单 NOPE-1"}),
    (["comment", "INC-000001", "hello"], 4, {"user": "nobody", "has": "没有用户"}),
    (["new", "nosuchprocess", "--title", "x"], 4, {"has": "没有流程"}),
    (["apikey", "revoke", "999"], 4, {"user": "p16.owner", "has": "没有 API 密钥"}),
    (["report", "nosuch"], 4, {"has": "没有报表"}),
    (["batch", "{base}/lines.jsonl"], 1, {"has": "第 2 行：不是 JSON：第 1 列：缺少值"}),
    (["audit", "export", "{base}/no/such/folder/journal.jsonl"], 2, {"has": "没有这个文件或目录"}),
    (["user", "passwd", AGENT], 2, {"has": "没有终端可询问密码"}),  # stdin is no terminal here
    # refused: unknown code value, field, action; wrong role, state; missing field; guard; permission
    (["new", "incident", "--title", "x", "--reporter", REPORTER, "--urgency", "extreme"], 1,
     {"has": "紧急程度 (urgency) 的值 'extreme' 无效：不是代码表 'urgency' 中的代码；可选：高 (high)、中 (medium)、低 (low)"}),
    (["new", "incident", "--title", "x", "--reporter", REPORTER, "--set", "nofield=1"], 1, {"has": "没有字段"}),
    (["do", "INC-000001", "frobnicate"], 1, {"has": "当前可用：分派 (assign)、解决 (resolve)"}),
    (["do", "INC-000001", "assign", "--set", "group=desktop_support"], 1,
     {"user": DESKTOP, "has": "需要以下角色之一：热线支持人员 (service_desk)"}),
    (["do", "INC-000002", "assign", "--set", "group=desktop_support"], 1,
     {"has": "动作“分派 (assign)”在状态“已解决 (resolved)”下不可用"}),
    (["do", "INC-000001", "resolve"], 1, {"has": "需要填写：解决方案 (solution)、结束状态 (closure_code)"}),
    (["do", "INC-000001", "resolve", "--set", "solution=x", "--set", "closure_code=withdrawn",
      "--set", "service_restored=true"], 1, {"has": "结束状态必须是可用于解决突发事件的代码"}),
    (["do", "INC-000001", "assign", "--set", "group=nogroup"], 1, {"has": "桌面运维组 (desktop_support)"}),
    (["user", "add", "x.y", "--email", "x@example.com"], 1, {"has": "需要 'admin' 权限"}),
    # a concurrent change
    (["do", "INC-000001", "assign", "--set", "group=desktop_support", "--expect-version", "0"], 5,
     {"has": "已被修改"}),
    # settings, definitions, databases
    (["show", "INC-000001"], 2, {"env": {"ITSM_TOKEN_DAYS": "abc"}, "has": "必须是 0 到 10000000 之间的整数"}),
    (["show", "INC-000001"], 1, {"home": "broken", "has": "YAML 语法错误"}),
    (["show", "INC-000001"], 1, {"home": "unlinted", "has": "缺少必需的键 'title'"}),
    (["show", "INC-000001"], 1, {"home": "undefined", "has": "未定义的字段 'nofield'"}),
    (["show", "INC-000001"], 2, {"db": "mysql://u@h/db", "has": "不支持 mysql"}),
    (["list"], 4, {"db": "missing", "has": "没有数据库"}),
]


def _invoke(desk: dict[str, Any], argv: list[str], opts: dict[str, Any], *, json_errors: bool = False) -> Any:
    db = opts.get("db", desk["db"])
    if db == "missing":
        db = f"sqlite:///{desk['base']}/missing.db"
    args = ["--db", db, "--lang", "zh"]
    if opts.get("home"):
        args += ["--home", str(desk["base"] / opts["home"])]
    user = opts.get("user", AGENT)
    if user is not None:
        args += ["--as", user]
    env = dict.fromkeys(CLEARED_ENV) | {"ITSM_CACHE_DIR": str(desk["base"] / "cache"), "ITSM_TZ": DISPLAY_TZ,
                                        "ITSM_AUDIT_KEY": TEST_AUDIT_KEY} | opts.get("env", {})
    argv = [a.replace("{base}", str(desk["base"])) for a in argv]
    return CliRunner().invoke(_cli.main, args + argv + (["--json"] if json_errors else []), env=env)


@pytest.fixture(scope="module")
def results(desk: dict[str, Any]) -> list[tuple[str, Any, int, dict[str, Any]]]:
    return [(" ".join(argv), _invoke(desk, argv, opts), code, opts) for argv, code, opts in CASES]


def test_every_error_is_said_in_chinese_with_its_exit_code(results: list[tuple[str, Any, int, dict[str, Any]]]) -> None:
    wrong = []
    for line, result, code, opts in results:
        err = result.stderr
        problems = []
        if result.exit_code != code:
            problems.append(f"exit {result.exit_code}, expected {code}")
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            problems.append(f"raised {result.exception!r}")
        if not re.search(r"[\u4e00-\u9fff]", err):
            problems.append("no Chinese")
        if _english(err):
            problems.append(f"English: {_english(err)}")
        if opts.get("has") and opts["has"] not in err:
            problems.append(f"missing {opts['has']!r}")
        if problems:
            wrong.append(f"$ itsm {line}: {'; '.join(problems)}\n{err}")
    assert not wrong, "\n".join(wrong)


def test_json_errors_keep_english_and_raw_ids(desk: dict[str, Any]) -> None:
    result = _invoke(desk, ["do", "INC-000002", "assign", "--set", "group=desktop_support"], {}, json_errors=True)
    assert result.exit_code == 1
    error = json.loads(result.stderr)
    available = ["confirm_for_user", "reopen", "declare_major", "raise_problem", "update"]
    assert error["message"] == ("action 'assign' is not available in state 'resolved'; available now: "
                                + ", ".join(available))
    assert error["error"] == "refused" and error["available"] == available


def test_english_stays_as_it_was(desk: dict[str, Any]) -> None:
    result = CliRunner().invoke(_cli.main, ["--db", desk["db"], "--lang", "en", "--as", DESKTOP, "do", "INC-000001",
                                            "assign", "--set", "group=desktop_support"],
                                env={"ITSM_CACHE_DIR": str(desk["base"] / "cache"), "ITSM_AUDIT_KEY": TEST_AUDIT_KEY})
    assert result.exit_code == 1
    assert result.stderr == ("itsm: chen.jie may not assign INC-000001: it needs one of the roles "
                             "service_desk, incident_manager\n")


# -- every raise is marked ------------------------------------------------------------------------

def _error_classes() -> set[str]:
    """ItsmError and its subclasses, by name, in the sources."""
    names = {"ItsmError"}
    trees = [ast.parse(p.read_text(encoding="utf-8")) for p in _sources()]
    grew = True
    while grew:
        grew = False
        for tree in trees:
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef) and node.name not in names and any(
                        (b.id if isinstance(b, ast.Name) else getattr(b, "attr", None)) in names for b in node.bases):
                    names.add(node.name)
                    grew = True
    return names


def _sources() -> list[Path]:
    out = [REPO / "cli.py"] + sorted((REPO / "commands").rglob("*.py")) + sorted((REPO / "engine").rglob("*.py"))
    return [p for p in out if "engine/web/" not in p.as_posix() and "/migrations/" not in p.as_posix()]


def _words(node: ast.expr) -> bool:
    """A literal (or f-string) with English words outside its placeholders."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        text = re.sub(r"\{[^{}]*\}", "", node.value)
    elif isinstance(node, ast.JoinedStr):
        text = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
    elif isinstance(node, ast.BinOp):
        return _words(node.left) or _words(node.right)
    elif isinstance(node, ast.IfExp):
        return _words(node.body) or _words(node.orelse)
    else:
        return False
    return bool(re.search(r"[A-Za-z]{2,}", text))


# functions that make an error of a message they are given: name -> the message's position
HELPERS = {"bad": 0, "mistyped": 0, "fail": 1, "_problem": 2, "require": 3, "_check_manage": 3, "check_admin": 3}


def unmarked_errors() -> list[str]:
    """Where an error is made with an English message that is not a catalogue template: an f-string
    or a concatenation (English formatted at raise time), or a literal not marked with N_()."""
    classes = _error_classes()
    found = []
    for path in _sources():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and node.args):
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
            at = 0 if name in classes else HELPERS.get(str(name))
            if at is None or len(node.args) <= at:
                continue
            first = node.args[at]
            if isinstance(first, ast.JoinedStr | ast.BinOp | ast.IfExp) and _words(first) or (
                    isinstance(first, ast.Constant) and _words(first)):
                found.append(f"{path.relative_to(REPO)}:{node.lineno}: {ast.unparse(first)[:70]}")
    return found


def test_every_error_message_is_a_catalogue_template() -> None:
    assert unmarked_errors() == [], "mark with N_(...) and give the values apart (values={...}); see engine/errors.py"


def test_the_scan_finds_an_english_error() -> None:
    tree = ast.parse('raise UsageError(f"bad value {x}")\nraise NotFound(N_("no ticket {key}"), values={"key": k})\n'
                     'raise ActionRefused("no" + " way")\nraise UsageError("{error}", values={"error": e})')
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") != "N_"]
    assert [_words(c.args[0]) for c in calls] == [True, False, True, False]


# -- the JSON API and itsm --url -------------------------------------------------------------------

def test_the_api_says_its_errors_in_the_request_s_language_too(desk: dict[str, Any]) -> None:
    sys.path.insert(0, str(REPO / "tests" / "web"))
    from _web import make_web

    from tests_conftest import PEOPLE

    web = make_web(desk["db"], {"agent": PEOPLE["agent"]})
    path = "/api/v1/tickets/INC-000001/actions/resolve"
    zh = web.call("POST", path, expect=422, json={}, headers={"Accept-Language": "zh"})
    en = web.call("POST", path, expect=422, json={})
    assert zh["message"] == en["message"] == "resolve needs: solution, closure_code, service_restored (missing)"
    assert zh["text"].startswith("解决 (resolve) 需要填写：解决方案 (solution)") and "text" not in en


def test_itsm_url_prints_the_server_s_words_in_its_language() -> None:
    from engine.remote.client import RemoteApi

    body = {"error": "refused", "message": "resolve needs: solution (missing)", "exit_code": 1,
            "missing": ["solution"], "text": "解决 (resolve) 需要填写：解决方案 (solution)（缺失）"}
    error = RemoteApi("http://127.0.0.1:1", "t", lang="zh")._error(422, json.dumps(body).encode())
    assert error.text("zh") == body["text"] and str(error) == body["message"]
    assert error.to_dict()["missing"] == ["solution"] and "text" not in error.to_dict()
    bare = RemoteApi("http://127.0.0.1:1", None, lang="zh")._error(401, b"")
    assert not _english(bare.text("zh")) and bare.exit_code == 1
