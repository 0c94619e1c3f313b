"""Failed logins are counted before the (slow, on purpose) password check and
taken back when it succeeds: parallel guesses cannot all be checked, and one
person's budget is the same whether they type their id or their e-mail."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace
from typing import Any

import pytest

from engine.errors import InvalidApiKey, NotFound, Throttled
from engine.web.api_v1 import LOGIN_WINDOW, throttled_login
from engine.web.limits import Limiter

ATTEMPTS = 5


class FakeApi:
    """What throttled_login asks of the desk: the person, and the slow password check."""

    def __init__(self, right: str = "right password") -> None:
        self.right = right
        self.checked = 0
        self.lock = threading.Lock()
        self.settings = SimpleNamespace(security=SimpleNamespace(login_attempts=ATTEMPTS))

    def user(self, ident: str) -> dict[str, Any]:
        if ident.lower() in ("wang.lei", "wang.lei@example.com"):
            return {"id": "wang.lei"}
        raise NotFound("no user")

    def login(self, user: str, password: str) -> dict[str, Any]:
        with self.lock:
            self.checked += 1
        time.sleep(0.05)  # argon2
        if password != self.right:
            raise InvalidApiKey("user or password is wrong")
        return {"token": "t", "user": "wang.lei"}


def request(address: str = "198.51.100.7", limits: Limiter | None = None) -> Any:
    return SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(limits=limits or Limiter())),
                           client=SimpleNamespace(host=address))


def test_parallel_guesses_are_counted_before_they_are_checked() -> None:
    api, req = FakeApi(), request()
    answers: list[str] = []
    barrier = threading.Barrier(20)

    def guess(i: int) -> None:
        barrier.wait()
        try:
            throttled_login(req, api, "wang.lei", f"guess {i}")
        except InvalidApiKey:
            answers.append("401")
        except Throttled:
            answers.append("429")

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert api.checked == ATTEMPTS  # not 20: the others were refused before their check
    assert sorted(answers) == ["401"] * ATTEMPTS + ["429"] * (20 - ATTEMPTS)


def test_a_right_password_does_not_use_up_the_budget() -> None:
    api, req = FakeApi(), request()
    for _ in range(ATTEMPTS * 3):
        assert throttled_login(req, api, "wang.lei", "right password")["user"] == "wang.lei"
    for _ in range(ATTEMPTS):
        with pytest.raises(InvalidApiKey):
            throttled_login(req, api, "wang.lei", "wrong")
    with pytest.raises(Throttled):
        throttled_login(req, api, "wang.lei", "right password")


@pytest.mark.parametrize("first,then", [("wang.lei", "wang.lei@example.com"), ("WANG.LEI@example.com", "wang.lei")])
def test_id_and_e_mail_share_one_budget(first: str, then: str) -> None:
    api, limits = FakeApi(), Limiter()
    for i in range(ATTEMPTS):  # each from another address: only the per-person count applies
        with pytest.raises(InvalidApiKey):
            throttled_login(request(f"198.51.100.{i}", limits), api, first, "wrong")
    with pytest.raises(Throttled):
        throttled_login(request("203.0.113.1", limits), api, then, "right password")
    assert api.checked == ATTEMPTS
    # an unknown name has its own count, as it had: the answer does not tell who exists
    with pytest.raises(InvalidApiKey):
        throttled_login(request("203.0.113.2", limits), api, "nobody", "wrong")


def test_reserve_counts_all_names_or_none() -> None:
    limits = Limiter()
    for _ in range(2):
        limits.reserve(("a",), 2, LOGIN_WINDOW, "x")
    with pytest.raises(Throttled):
        limits.reserve(("b", "a"), 2, LOGIN_WINDOW, "x")
    assert limits.wait("b", 1, LOGIN_WINDOW) == 0  # "b" was not counted when "a" refused
    at = limits.reserve(("b",), 2, LOGIN_WINDOW, "x")
    limits.release(("b",), at)
    assert "b" not in limits.seen or not limits.seen["b"]
