"""SQLite's kept write connection remembers people, roles and group members from
one transaction to the next (engine/store/repository.py, PeopleCache) only while
no other connection has committed: a role granted by another process counts for
the very next action, and this process's own changes are seen at once."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, Iterator

import pytest

from _sqltrace import sqlite_trace
from engine.store.repository import Repo, Store

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # PostgreSQL reads every time


@contextmanager
def people_reads(repo: Repo) -> Iterator[list[str]]:
    """The statements of the transaction that read people, roles or groups."""
    with sqlite_trace(repo) as seen:
        yield seen
    seen[:] = [s for s in seen if "FROM people" in s or "FROM group_members" in s
               or "FROM person_roles" in s]


@pytest.fixture
def stores(db_url: str) -> Iterator[tuple[Store, Store]]:
    """Two stores on one file: as two processes would have."""
    a, b = Store(db_url), Store(db_url)
    with a.write() as repo:
        repo.add_person("wang.lei", "Wang Lei", "wang.lei@example.com", None, None, ["service_desk"],
                        ["desk"], NOW)
    yield a, b
    a.close()
    b.close()


def test_kept_while_nothing_else_commits(stores: tuple[Store, Store]) -> None:
    a, _ = stores
    with a.write() as repo:
        assert repo.find_person("wang.lei")["roles"] == ["service_desk"]
        assert repo.group_members("desk") == ["wang.lei"]
    with a.write() as repo, people_reads(repo) as reads:
        assert repo.find_person("wang.lei")["groups"] == ["desk"]
        assert repo.group_members("desk") == ["wang.lei"]
        repo.find_person("wang.lei")["roles"].append("tampered")  # callers get copies
    assert reads == []
    with a.write() as repo:
        assert repo.find_person("wang.lei")["roles"] == ["service_desk"]


def test_another_connection_commit_is_seen_next_time(stores: tuple[Store, Store]) -> None:
    a, b = stores
    with a.write() as repo:
        assert repo.find_person("wang.lei")["roles"] == ["service_desk"]
        assert repo.find_person("zhao.min") is None
        assert repo.group_members("network_ops") == []
    with b.write() as repo:  # another process grants a role and adds a colleague
        repo.set_roles("wang.lei", ["incident_manager"], ["network_ops"])
        repo.add_person("zhao.min", "Zhao Min", "zhao.min@example.com", None, None, [], ["network_ops"], NOW)
    with a.write() as repo, people_reads(repo) as reads:
        assert repo.find_person("wang.lei")["roles"] == ["incident_manager", "service_desk"]
        assert repo.find_person("zhao.min")["groups"] == ["network_ops"]
        assert repo.group_members("network_ops") == ["wang.lei", "zhao.min"]
    assert reads  # read again


def test_own_changes_are_seen_and_rollbacks_forgotten(stores: tuple[Store, Store]) -> None:
    a, _ = stores
    with a.write() as repo:
        assert repo.find_person("li.na") is None
    with a.write() as repo:
        repo.add_person("li.na", "Li Na", "li.na@example.com", None, None, [], ["desk"], NOW)
    with a.write() as repo:
        assert repo.find_person("li.na@example.com")["id"] == "li.na"
        assert repo.group_members("desk") == ["li.na", "wang.lei"]
    with pytest.raises(RuntimeError), a.write() as repo:
        repo.add_person("sun.yi", "Sun Yi", "sun.yi@example.com", None, None, [], ["desk"], NOW)
        assert repo.group_members("desk") == ["li.na", "sun.yi", "wang.lei"]
        raise RuntimeError("roll back")
    with a.write() as repo:
        assert repo.find_person("sun.yi") is None
        assert repo.group_members("desk") == ["li.na", "wang.lei"]


def test_reads_through_the_pool_do_not_share_it(stores: tuple[Store, Store]) -> None:
    """Another thread's transaction (or store.read()) uses its own, empty cache."""
    a, _ = stores
    with a.write() as repo:
        repo.find_person("wang.lei")
    with a.read() as repo, people_reads(repo) as reads:
        assert repo.find_person("wang.lei")["roles"] == ["service_desk"]
    assert reads


def test_a_new_connection_starts_empty(stores: tuple[Store, Store]) -> None:
    a, _ = stores
    with a.write() as repo:
        repo.find_person("wang.lei")
        kept: Any = repo.conn
    kept.invalidate()  # e.g. the file was replaced: the next write opens a new connection
    with a.write() as repo, people_reads(repo) as reads:
        assert repo.conn is not kept
        assert repo.find_person("wang.lei")["roles"] == ["service_desk"]
    assert reads


def test_a_rolled_back_savepoint_is_forgotten(stores: tuple[Store, Store]) -> None:
    a, _ = stores
    with a.write() as repo:
        with pytest.raises(RuntimeError), repo.savepoint():
            repo.add_person("sun.yi", "Sun Yi", "sun.yi@example.com", None, None, [], ["desk"], NOW)
            assert repo.group_members("desk") == ["sun.yi", "wang.lei"]
            raise RuntimeError("roll the savepoint back")
        assert repo.group_members("desk") == ["wang.lei"]
        assert repo.find_person("sun.yi") is None
    with a.write() as repo:
        assert repo.group_members("desk") == ["wang.lei"]
