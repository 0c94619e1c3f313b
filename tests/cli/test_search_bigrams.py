"""Two-character Chinese terms (issue #25): 卡纸, 网络, 登录 are found through the
CJK bigram index kept beside the trigrams (migration 0010), on SQLite and
PostgreSQL, ranked title first; the similar-solutions look-up stays bounded."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from _desk import Desk
from tests_conftest import downgraded


@pytest.fixture
def paper(desk: Desk) -> dict[str, str]:
    agent = desk.org.agent.id
    keys = {}

    def new(name: str, minute: int, title: str, description: str = "") -> None:
        keys[name] = desk.new("incident", agent, f"2026-03-02 09:{minute:02d}", title=title,
                              reporter=desk.org.reporter, description=description)["key"]

    new("title", 0, "三楼打印机卡纸", "打印任务排队")
    new("description", 1, "三楼打印机故障", "用户反映打印机经常卡纸，需要清理")
    new("notes", 2, "打印机没有反应", "打印任务一直在排队")
    desk.itsm("comment", keys["notes"], "现场检查发现是卡纸导致", user=agent, now="2026-03-02T09:05:00+08:00")
    new("apart", 3, "门禁卡丢失", "需要补办门禁卡，另外纸质申请表已提交")  # 卡 and 纸, never 卡纸
    new("network", 4, "网络中断", "营业部网络中断十分钟")
    new("network_slow", 5, "网络缓慢", "访问外网很慢")
    new("vpn", 6, "VPN登录失败", "出差期间无法连接")
    return keys


def search(desk: Desk, *args: Any) -> list[str]:
    return [h["key"] for h in desk.itsm.json("search", *args, user=desk.org.agent.id)]


def test_two_character_terms_find_the_right_tickets_title_first(desk: Desk, paper: dict[str, str]) -> None:
    hits = search(desk, "卡纸")
    assert set(hits) == {paper["title"], paper["description"], paper["notes"]}  # not "apart"
    assert hits[0] == paper["title"] and hits[-1] == paper["notes"]  # title, then description, then notes
    assert set(search(desk, "网络")) == {paper["network"], paper["network_slow"]}
    assert search(desk, "网络 中断") == [paper["network"]]  # every term must occur
    assert search(desk, "打印机 卡纸")[0] == paper["title"]  # a trigram term and a bigram term
    assert set(search(desk, "打印机 卡纸")) == {paper["title"], paper["description"], paper["notes"]}
    assert search(desk, "门禁 卡纸") == []
    assert search(desk, "卡纸", "--resolved") == []
    assert search(desk, "vpn 登录") == [paper["vpn"]]  # a Latin term and a bigram term
    assert search(desk, "VPN 卡纸") == []
    # a longer Chinese term is a phrase of its bigrams in a row: 三楼打印机, not 三楼 ... 打印机
    assert search(desk, "三楼打印机 卡纸") == [paper["title"], paper["description"]]
    assert search(desk, "打印机三楼") == []  # no ticket has these characters in this order


def test_a_two_character_query_uses_the_bigram_index(desk: Desk, paper: dict[str, str], db_url: str) -> None:
    from engine.store import db
    from engine.store.search import Query, SearchIndex

    engine = db.make_engine(db_url)
    try:
        with engine.connect() as conn:
            index = SearchIndex(conn, conn.dialect.name == "sqlite")
            captured: list[str] = []
            real = index._rows
            index._rows = lambda sql, params: captured.append(sql) or real(sql, params)  # type: ignore[method-assign]
            assert len(index.find(Query(terms=["卡纸"]))) == 3
            sql, = captured
            params = {"limit": 20, "pool": 10_000, "pairs": '"卡纸"'} if index.sqlite else \
                {"limit": 20, "q": "卡纸", "t0": "%卡纸%", "pairs": ["卡纸"]}
            if index.sqlite:
                plan = " ".join(str(r) for r in conn.execute(sa.text("EXPLAIN QUERY PLAN " + sql), params))
                assert "search_bigram VIRTUAL TABLE" in plan, plan
            else:
                conn.exec_driver_sql("SET enable_seqscan = off")
                plan = " ".join(r[0] for r in conn.execute(sa.text("EXPLAIN " + sql), params))
                assert "ix_search_text_bigram" in plan, plan
    finally:
        engine.dispose()


def test_the_migration_fills_the_bigrams_of_existing_tickets(desk: Desk, paper: dict[str, str],
                                                              db_url: str) -> None:
    from engine.store import db

    with downgraded(db_url, "0006"):
        pass
    assert f"0006 -> {db.HEAD}" in desk.itsm("db", "upgrade").stdout
    assert search(desk, "卡纸")[0] == paper["title"]
    assert set(search(desk, "卡纸")) == {paper["title"], paper["description"], paper["notes"]}


def test_reindex_keeps_the_bigrams(desk: Desk, paper: dict[str, str]) -> None:
    before = search(desk, "卡纸")
    desk.itsm.json("search", "--reindex", user=desk.org.agent.id)
    assert search(desk, "卡纸") == before


def test_similar_look_up_reads_only_the_newest_candidates(desk: Desk, db_url: str) -> None:
    """The look-up at intake is bounded: among the tickets holding a term, only
    the newest N are ranked (an older, better match is not looked at)."""
    from engine.store import db
    from engine.store.search import SearchIndex

    agent = desk.org.agent.id
    keys = []
    for i, title in enumerate(["Outlook crashes on start with add-in", "Outlook slow", "Outlook slow again"]):
        key = desk.new("incident", agent, f"2026-03-02 09:0{i}", title=title, reporter=desk.org.reporter)["key"]
        desk.do(key, "resolve", agent, f"2026-03-02 09:1{i}", solution=f"fix {i}", closure_code="solved",
                service_restored=True)
        keys.append(key)
    engine = db.make_engine(db_url)
    try:
        with engine.connect() as conn:
            index = SearchIndex(conn, conn.dialect.name == "sqlite")
            terms = ["outlook", "crashes", "add-in"]
            everything = [r["key"] for r in index.find_similar(terms, None, 5)]
            assert everything[0] == keys[0] and set(everything) == set(keys)  # the best match first
            newest = [r["key"] for r in index.find_similar(terms, None, 5, candidates=2)]
            assert newest == [keys[2], keys[1]]  # only the two newest were candidates
    finally:
        engine.dispose()
