"""Recorded solutions become knowledge (issue #10): itsm search, itsm similar,
the similar solutions shown at intake, and solution reuse — in Chinese and
English, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from _desk import Desk
from tests_conftest import downgraded

DUAL_MODE = True  # direct and remote mode (tests/conftest.py)


def resolve(desk: Desk, key: str, now: str, solution: str, **extra: Any) -> Any:
    return desk.do(key, "resolve", desk.org.agent.id, now, solution=solution, closure_code="solved",
                   service_restored=True, **extra)


@pytest.fixture
def kb(desk: Desk) -> dict[str, str]:
    """A small knowledge base: resolved incidents with solutions, and open ones."""
    agent = desk.org.agent.id
    keys = {}
    keys["claims_login"] = desk.new(
        "incident", agent, "2026-03-02 09:00", title="理赔系统无法登录", reporter=desk.org.reporter,
        service="claims", category="access", description="用户登录理赔系统时提示密码错误，账户被锁定")["key"]
    resolve(desk, keys["claims_login"], "2026-03-02 09:20", "在AD中解锁账户并重置密码后，理赔系统可以正常登录")
    keys["portal_login"] = desk.new(
        "incident", agent, "2026-03-02 10:00", title="客户门户无法登录", reporter=desk.org.reporter,
        service="customer_portal", category="access", description="客户反映门户登录后白屏")["key"]
    resolve(desk, keys["portal_login"], "2026-03-02 10:30", "清除浏览器缓存后门户恢复登录")
    keys["vpn"] = desk.new(
        "incident", agent, "2026-03-02 11:00", title="VPN disconnects every few minutes",
        reporter=desk.org.reporter, service="network", category="network",
        description="The VPN client drops the tunnel on the home Wi-Fi")["key"]
    resolve(desk, keys["vpn"], "2026-03-02 11:30", "Reinstalled the VPN client and renewed the token; stable since")
    keys["open_printer"] = desk.new(
        "incident", agent, "2026-03-02 12:00", title="Printer on floor 3 jams", reporter=desk.org.reporter,
        service="printing", category="printing")["key"]
    return keys


def search(desk: Desk, *args: Any, expect: int = 0, user: str | None = None) -> Any:
    return desk.itsm.json("search", *args, user=user or desk.org.agent.id, expect=expect)


def test_chinese_query_finds_the_resolved_incident_and_its_solution(desk: Desk, kb: dict[str, str]) -> None:
    hits = search(desk, "理赔系统 无法登录")
    assert [h["key"] for h in hits] == [kb["claims_login"]]  # both terms must occur
    hit = hits[0]
    assert hit["solution"] == "在AD中解锁账户并重置密码后，理赔系统可以正常登录"
    assert hit["closure_code"] == "solved" and hit["state"] == "resolved"
    assert hit["match"]["field"] == "title" and "[理赔系统]" in hit["match"]["text"]
    # one shared term: both login incidents, the one with the term in its title first
    hits = search(desk, "无法登录")
    assert {h["key"] for h in hits} == {kb["claims_login"], kb["portal_login"]}


def test_search_reaches_solutions_descriptions_and_notes(desk: Desk, kb: dict[str, str]) -> None:
    hits = search(desk, "重置密码")
    assert [h["key"] for h in hits] == [kb["claims_login"]]
    assert hits[0]["match"]["field"] == "solution" and "[重置密码]" in hits[0]["match"]["text"]
    hits = search(desk, "白屏")  # two characters: no trigram, still found by the filter scan
    assert [h["key"] for h in hits] == [kb["portal_login"]]
    assert hits[0]["match"]["field"] == "description"
    desk.itsm("comment", kb["open_printer"], "Tray 2 roller worn, ordered a spare part",
              user=desk.org.agent.id, now="2026-03-02T12:05:00+08:00")
    hits = search(desk, "roller")
    assert [h["key"] for h in hits] == [kb["open_printer"]] and hits[0]["match"]["field"] == "notes"


def test_english_is_case_insensitive_and_phrases_stay_together(desk: Desk, kb: dict[str, str]) -> None:
    assert [h["key"] for h in search(desk, "vpn TOKEN")] == [kb["vpn"]]
    assert [h["key"] for h in search(desk, '"renewed the token"')] == [kb["vpn"]]
    assert search(desk, '"token renewed"') == []
    assert search(desk, "vpn printer") == []  # every term must occur


def test_filters_resolved_and_process(desk: Desk, kb: dict[str, str]) -> None:
    desk.itsm("comment", kb["open_printer"], "login to the print server failed too",
              user=desk.org.agent.id, now="2026-03-02T12:10:00+08:00")
    assert kb["open_printer"] in {h["key"] for h in search(desk, "login")}
    assert kb["open_printer"] not in {h["key"] for h in search(desk, "login", "--resolved")}
    assert search(desk, "理赔系统", "--process", "service_request") == []
    assert search(desk, "理赔系统", "--process", "nonexistent", expect=4)["error"] == "not_found"


def test_index_follows_edits_reopen_and_re_resolve(desk: Desk, kb: dict[str, str]) -> None:
    key = kb["claims_login"]
    agent = desk.org.agent.id
    desk.do(key, "reopen", agent, "2026-03-02 13:00", reason="用户再次无法登录，提示证书过期")
    assert [h["key"] for h in search(desk, "证书过期")] == [key]
    assert search(desk, "证书过期", "--resolved")[0]["state"] != "resolved"  # resolved before, open now
    desk.do(key, "update", agent, "2026-03-02 13:05", title="理赔系统证书过期导致无法登录")
    assert search(desk, "证书过期")[0]["match"]["field"] == "title"
    resolve(desk, key, "2026-03-02 14:00", "更新了理赔系统的SSL证书")
    hits = search(desk, "SSL证书")
    assert [h["key"] for h in hits] == [key] and hits[0]["solution"] == "更新了理赔系统的SSL证书"
    # the old solution is no longer the ticket's solution (still in its journal, not in the index)
    assert search(desk, "在AD中解锁账户") == []


def test_similar_prefers_the_same_service(desk: Desk, kb: dict[str, str]) -> None:
    agent = desk.org.agent.id
    new = desk.new("incident", agent, "2026-03-03 09:00", title="理赔系统登录失败，无法登录",
                   reporter=desk.org.reporter, service="claims", category="access")
    similar = new["similar"]  # the agent sees the known solutions at intake
    assert similar[0]["key"] == kb["claims_login"]
    assert similar[0]["solution"].startswith("在AD中解锁账户")
    assert kb["portal_login"] in [s["key"] for s in similar]  # shares 无法登录, another service
    rows = desk.itsm.json("similar", new["key"], user=agent)
    assert [r["key"] for r in rows][:2] == [kb["claims_login"], kb["portal_login"]]
    assert rows[0]["score"] > rows[1]["score"]
    # the same text on the portal's service: now the portal incident ranks first
    other = desk.new("incident", agent, "2026-03-03 09:10", title="客户门户登录失败，无法登录",
                     reporter=desk.org.reporter, service="customer_portal", category="access")
    assert other["similar"][0]["key"] == kb["portal_login"]
    # open tickets and tickets without a solution are never suggested
    assert kb["open_printer"] not in [r["key"] for r in rows]


def test_similar_text_output_and_no_match(desk: Desk, kb: dict[str, str]) -> None:
    agent = desk.org.agent.id
    result = desk.itsm("new", "incident", "--title", "理赔系统无法登录了", "--reporter", desk.org.reporter,
                       "--service", "claims", user=agent, now="2026-03-03T09:00:00+08:00")
    assert "Known solutions of similar tickets" in result.stdout
    assert kb["claims_login"] in result.stdout and "重置密码" in result.stdout
    lonely = desk.new("incident", agent, "2026-03-03 09:05", title="Coffee machine leaks",
                      reporter=desk.org.reporter)
    assert lonely["similar"] == []
    out = desk.itsm("similar", lonely["key"], user=agent).stdout
    assert "no resolved ticket with a solution looks like" in out
    out = desk.itsm("similar", lonely["key"], user=agent, lang="zh").stdout
    assert "没有与" in out


@pytest.mark.direct_only("a person without roles has no API scopes (codes/permissions.yaml): end users file through the portal")
def test_end_users_never_see_other_tickets(desk: Desk, kb: dict[str, str], itsm: Any) -> None:
    itsm("user", "add", "li.na", "--email", desk.org.reporter, user=desk.org.owner.id)
    mine = desk.new("incident", "li.na", "2026-03-03 09:00", title="理赔系统无法登录",
                    service="claims")
    assert "similar" not in mine  # the acknowledgement shows no other user's ticket
    err = search(desk, "理赔系统", user="li.na", expect=1)
    assert err["error"] == "refused" and "service-desk staff" in err["message"]
    assert desk.itsm.json("similar", mine["key"], user="li.na", expect=1)["error"] == "refused"


def test_reuse_a_known_solution(desk: Desk, kb: dict[str, str]) -> None:
    agent = desk.org.agent.id
    new = desk.new("incident", agent, "2026-03-03 09:00", title="理赔系统无法登录，账户锁定",
                   reporter=desk.org.reporter, service="claims")
    # the solution is copied from the reused ticket when none is given
    done = desk.do(new["key"], "resolve", agent, "2026-03-03 09:05", solution_from=kb["claims_login"],
                   closure_code="solved", service_restored=True)
    assert done["state"] == "resolved"
    shown = desk.show(new["key"])
    assert shown["fields"]["solution_from"] == kb["claims_login"]
    assert shown["fields"]["solution"] == "在AD中解锁账户并重置密码后，理赔系统可以正常登录"
    # a ticket without a solution cannot be reused; nothing is written
    other = desk.new("incident", agent, "2026-03-03 09:10", title="理赔系统很慢", reporter=desk.org.reporter)
    before = desk.snapshot(other["key"])
    err = desk.do(other["key"], "resolve", agent, "2026-03-03 09:15", solution_from=kb["open_printer"],
                  closure_code="solved", service_restored=True, expect=1)
    assert "no recorded solution" in err["message"]
    err = desk.do(other["key"], "resolve", agent, "2026-03-03 09:15", solution_from="INC-999999",
                  closure_code="solved", service_restored=True, expect=1)
    assert "no such ticket" in err["message"]
    assert desk.snapshot(other["key"]) == before


def test_usage_errors(desk: Desk, kb: dict[str, str]) -> None:
    err = desk.itsm("search", user=desk.org.agent.id, expect=2)
    assert "give the TEXT" in err.stderr
    assert desk.itsm.json("similar", "INC-999999", user=desk.org.agent.id, expect=4)["error"] == "not_found"


def test_reindex_rebuilds_the_same_index(desk: Desk, kb: dict[str, str]) -> None:
    before = {q: [h["key"] for h in search(desk, q)] for q in ("无法登录", "vpn", "白屏", "重置密码")}
    result = desk.itsm.json("search", "--reindex", user=desk.org.agent.id)
    assert result == {"reindexed": 4}
    assert {q: [h["key"] for h in search(desk, q)] for q in before} == before


@pytest.mark.sqlite_only("FTS5 segments are SQLite's (PostgreSQL's GIN index needs no merging)")
def test_reindex_leaves_each_sqlite_index_merged(desk: Desk, kb: dict[str, str], db_url: str) -> None:
    """Each intake writes FTS5 segments; a rebuild merges them into one per table, so
    that later writes do not pay for merging a bulk load's segments (#25)."""
    import sqlite3

    path = db_url.split("///", 1)[1]

    def segments() -> list[int]:
        with sqlite3.connect(path) as conn:
            return [conn.execute(f"SELECT count(DISTINCT segid) FROM {t}_idx").fetchone()[0]
                    for t in ("search_fts", "search_bigram")]

    assert max(segments()) > 1  # one per intake's transaction, as written
    desk.itsm.json("search", "--reindex", user=desk.org.agent.id)
    assert segments() == [1, 1]
    assert [h["key"] for h in search(desk, "重置密码")] == [kb["claims_login"]]


@pytest.mark.direct_only("the test replaces the database under the server")
def test_upgrading_an_older_database_indexes_its_tickets(desk: Desk, kb: dict[str, str], db_url: str) -> None:
    """A database from before the index (schema 0003): `itsm db upgrade` adds the
    index and fills it, solutions and notes included."""
    from engine.store import db

    desk.itsm("comment", kb["vpn"], "Router firmware 2.1 was the trigger", user=desk.org.agent.id,
              now="2026-03-02T12:30:00+08:00")
    with downgraded(db_url, "0003"):
        pass
    out = desk.itsm("db", "upgrade").stdout
    assert f"0003 -> {db.HEAD}" in out
    assert [h["key"] for h in search(desk, "重置密码")] == [kb["claims_login"]]  # a solution
    assert [h["key"] for h in search(desk, "firmware")] == [kb["vpn"]]  # a note
    assert [h["key"] for h in search(desk, "白屏")] == [kb["portal_login"]]  # a description


def test_scores_on_a_small_desk_say_how_well_each_hit_matches(desk: Desk) -> None:
    """bm25 gives words in most of a small desk's tickets almost no weight, so the
    shown score also says how much of the query a hit holds (#23: no more 0.0)."""
    agent = desk.org.agent.id
    both = desk.new("incident", agent, "2026-03-02 09:00", title="VPN token expired",
                    reporter=desk.org.reporter)["key"]
    one = desk.new("incident", agent, "2026-03-02 09:05", title="VPN slow at the branch",
                   reporter=desk.org.reporter)["key"]
    hits = {h["key"]: h["score"] for h in desk.itsm.json("search", "VPN token", user=agent)}
    assert set(hits) == {both}  # every term must match
    assert 0.5 < hits[both] <= 1.0
    rows = desk.itsm.json("search", "VPN", user=agent)
    assert {r["key"] for r in rows} == {both, one} and all(r["score"] > 0.5 for r in rows)


@pytest.mark.direct_only("remote mode shows raw ids: the desk server's definitions are not here (agent-guide)")
def test_in_chinese_states_services_closure_codes_and_matched_columns_are_labels(desk: Desk,
                                                                                 kb: dict[str, str]) -> None:
    agent = desk.org.agent.id
    text = desk.itsm("--lang", "zh", "search", "理赔系统", user=agent).stdout
    assert "已解决" in text and "理赔系统" in text and "标题：[理赔系统]" in text
    assert "resolved" not in text and " claims " not in text and "title:" not in text
    new = desk.itsm("--lang", "zh", "new", "incident", "--title", "理赔系统无法登录了", "--reporter",
                    desk.org.reporter, "--service", "claims", user=agent, now="2026-03-02T13:00:00+08:00").stdout
    assert "相似工单的已知解决方案" in new and "[已彻底解决]" in new and "[solved]" not in new
    key = next(line.split()[0] for line in desk.itsm("list", user=agent).stdout.splitlines()
               if "理赔系统无法登录了" in line)
    similar = desk.itsm("--lang", "zh", "similar", key, user=agent).stdout
    assert "已彻底解决" in similar and "已解决" in similar and "solved" not in similar
    english = desk.itsm("search", "理赔系统", user=agent).stdout
    assert "resolved" in english and "title: [理赔系统]" in english


@pytest.mark.direct_only("remote mode has no user administration")
def test_user_add_and_list_name_roles_and_groups_by_their_labels_in_chinese(desk: Desk) -> None:
    owner = desk.org.owner.id
    added = desk.itsm("--lang", "zh", "user", "add", "lin.fang", "--email", "lin.fang@example.com",
                      "--role", "service_desk", "--group", "desktop_support", user=owner).stdout
    assert "角色：热线支持人员" in added and "所属组：桌面运维组" in added and "desktop_support" not in added
    listed = desk.itsm("--lang", "zh", "user", "list", user=owner).stdout
    assert "热线支持人员" in listed and "桌面运维组" in listed and "service_desk" not in listed
    assert "service_desk" in desk.itsm("user", "list", user=owner).stdout  # ids in English
    assert desk.itsm.json("--lang", "zh", "user", "list", user=owner)[0]["roles"] is not None
