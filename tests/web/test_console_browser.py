"""The agent console in a real browser (issue #22): headless Chromium driven by
Playwright against ``itsm serve``.  A whole incident only through the console:
hotline intake with a similar solution offered and the priority previewed,
assign, start, pend, resume, resolve by reusing the known solution in one
click, then the user's confirmation in the portal; a major incident declared
and seen on the board; a role that may not act sees no action form.
Screenshots of each page, in English and Chinese, go to
$ITSM_ARTIFACTS_DIR/console/ when set (CI keeps it), else tmp_path.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from test_browser import CHROMIUM, FLAGS, _need_chromium, server  # noqa: F401  (server: a fixture)

PASSWORD = "correct horse battery"


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    base = os.environ.get("ITSM_ARTIFACTS_DIR")
    folder = Path(base) / "console" if base else tmp_path / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _login(page: Any, server: str, user: str) -> None:
    page.goto(server + "/desk")
    page.fill("#user", user)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("#me")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_an_incident_through_the_console(itsm: Any, org: Any, server: str, shots: Path) -> None:  # noqa: F811
    _need_chromium()
    from playwright.sync_api import expect, sync_playwright

    for who in (org.agent, org.approver, org.mim):
        itsm("user", "passwd", who.id, "--password-stdin", user=who.id, input=PASSWORD + "\n")
    known = itsm.json("new", "incident", "--title", "VPN drops every ten minutes", "--service", "network",
                      "--reporter", "zhang.wei@example.com", user=org.agent.id)["key"]
    solution = "Update the VPN client to version 5.2 and restart the laptop"
    itsm("do", known, "resolve", "--set", f"solution={solution}", "--set", "closure_code=solved",
         "--set", "service_restored=true", user=org.agent.id)

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000}, locale="en-GB")
            page.set_default_timeout(30_000)
            page.goto(server + "/desk")
            page.screenshot(path=str(shots / "01-login.png"), full_page=True)
            _login(page, server, org.agent.id)

            # hotline intake: the caller found, a similar solution offered, the priority previewed
            page.click("text=Hotline intake")
            page.fill("#caller-find", org.mim.email)
            page.click("#find")
            assert org.mim.id in page.inner_text("#caller")
            # while the title is typed, the known solutions show (the script asks the server)
            page.type("#title", "VPN drops")
            expect(page.locator("#solutions")).to_contain_text("VPN client")
            page.select_option("#service", "network")
            page.select_option("#impact", "low")
            page.select_option("#urgency", "high")
            expect(page.locator("#priority")).to_contain_text("(P")
            page.click("#preview")  # the same without JavaScript: a GET of the form
            assert solution in page.inner_text("#solutions")
            assert page.inner_text("#priority") not in ("", "—")
            page.screenshot(path=str(shots / "02-intake.png"), full_page=True)
            page.fill("#caller-find", "li.na@example.com")  # the caller is an end user
            page.click("#find")
            page.fill("#title", "VPN drops when I work from home")
            page.click("#save")
            page.wait_for_selector("#status-link")
            key = page.inner_text("#ticket-key").strip()
            status_link = page.get_attribute("#status-link", "href")
            page.screenshot(path=str(shots / "03-ticket-new.png"), full_page=True)

            # assign, start, pend, resume: each a form made from the definition
            page.fill("#assign-assignee", org.agent.id)
            page.select_option("#assign-group", "service_desk")
            page.click("#do-assign")
            page.wait_for_selector("#form-start")
            assert page.inner_text("#assignee") == org.agent.id
            page.click("#do-start")
            page.wait_for_selector("#form-pend")
            page.fill("#pend-reason", "Waiting for the user to try at home")
            page.click("#do-pend")
            page.wait_for_selector("#form-resume")
            page.screenshot(path=str(shots / "04-ticket-pending.png"), full_page=True)
            page.goto(server + "/desk?queue=waiting")
            assert key in page.inner_text("#queue")
            page.screenshot(path=str(shots / "05-queue-waiting.png"), full_page=True)
            page.goto(server + f"/desk/t/{key}")
            page.click("#do-resume")
            page.wait_for_selector("#form-resolve")

            # resolve by reusing the known solution in one click
            page.click(f"#reuse-{known}")
            assert page.input_value("#resolve-solution") == solution
            page.select_option("#resolve-closure_code", "solved")
            page.select_option("#resolve-service_restored", "true")
            page.click("#do-resolve")
            page.wait_for_selector("#form-confirm_for_user")
            assert "Resolved" in page.inner_text("#state")
            page.screenshot(path=str(shots / "06-ticket-resolved.png"), full_page=True)

            # the user confirms in the portal
            page.goto(status_link)
            page.click("#do-confirm")
            page.wait_for_selector("[role=status]")
            assert page.inner_text("#ticket-state").startswith("Closed")
            page.screenshot(path=str(shots / "07-portal-confirmed.png"), full_page=True)

            # a major incident declared from an incident, seen on the board
            page.goto(server + "/desk/new")
            page.fill("#title", "Claims system down for everyone")
            page.select_option("#service", "claims")
            page.click("#save")
            page.wait_for_selector("#form-declare_major")
            page.fill("#declare_major-reason", "All branches cannot file claims")
            page.click("#do-declare_major")
            page.wait_for_selector("#ticket-key")
            page.click("#logout")
            _login(page, server, org.mim.id)  # the major-incident manager works it from the board
            page.goto(server + "/desk/board")
            major = page.locator("#board a").first.inner_text().strip()
            assert major.startswith("MI-")
            page.click(f"#{major}-do-accept")
            page.wait_for_selector(f"#{major}-form-post_update")
            page.fill(f"#{major}-post_update-note", "Claims down in all branches; failover in progress")
            page.click(f"#{major}-do-post_update")
            page.wait_for_selector("#board")
            assert "min)" in page.inner_text(f"#{major}-next")  # the next update's due time and countdown
            page.screenshot(path=str(shots / "08-board.png"), full_page=True)
            page.goto(server + "/desk/board?lang=zh")
            assert "重大事件看板" in page.inner_text("h1")
            page.screenshot(path=str(shots / "09-board-zh.png"), full_page=True)
            page.goto(server + f"/desk/t/{key}?lang=zh")
            page.screenshot(path=str(shots / "10-ticket-zh.png"), full_page=True)
            page.set_viewport_size({"width": 390, "height": 844})
            page.goto(server + "/desk?queue=unassigned&lang=zh")
            page.screenshot(path=str(shots / "11-queue-zh-390.png"), full_page=True)
            page.set_viewport_size({"width": 1280, "height": 1000})
            for name, path in (("13-queue", "/desk?queue=waiting"), ("14-intake", "/desk/new"),
                               ("15-ticket", f"/desk/t/{key}")):
                page.goto(server + path + ("&" if "?" in path else "?") + "lang=zh")  # every page in Chinese too
                assert page.locator("html").get_attribute("lang") == "zh-CN"
                page.screenshot(path=str(shots / f"{name}-zh.png"), full_page=True)
            page.click("#logout")
            page.wait_for_selector("#password")
            page.goto(server + "/desk/login?lang=zh")
            page.screenshot(path=str(shots / "16-login-zh.png"), full_page=True)

            # a role that may not act sees no form
            page.set_viewport_size({"width": 1280, "height": 1000})
            _login(page, server, org.approver.id)
            page.goto(server + f"/desk/t/{key}")
            assert page.locator("form.action").count() == 0
            assert page.locator("#no-actions").count() == 1
            page.screenshot(path=str(shots / "12-no-actions.png"), full_page=True)
        finally:
            browser.close()

    events = [e["action"] for e in itsm.json("history", key)]
    assert events[:1] == ["create"] and events[-1] == "confirm"
    for action in ("assign", "start", "pend", "resume", "resolve"):
        assert action in events, events
    assert itsm.json("show", key)["fields"]["solution_from"] == known
    updates = [e for e in itsm.json("history", major) if e["action"] == "post_update"]
    assert updates and updates[0]["actor"] == org.mim.id
    for png in shots.glob("*.png"):
        assert png.stat().st_size > 3000, png
