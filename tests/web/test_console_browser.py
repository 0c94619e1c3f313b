"""The agent console in a real browser (issue #22): headless Chromium driven by
Playwright against ``itsm serve``.  A whole incident only through the console:
hotline intake with a similar solution offered and the priority previewed,
assign, start, pend (with a public and an internal note), resume, resolve by
reusing the known solution in one click, then the user's confirmation in the
portal; a major incident declared from the board and updated there; pages at
390 px and the keyboard's skip link; a service request through the same
intake; the queue's live refresh (a fake page clock past the 30 s poll) that
keeps filter, sort, page and scroll; a role that may not act sees no action form.
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


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """The server's queues page by 2 rows ([web] page_size), so paging shows with few tickets."""
    monkeypatch.setenv("ITSM_WEB_PAGE_SIZE", "2")


def _login(page: Any, server: str, user: str) -> None:
    page.goto(server + "/desk")
    page.fill("#user", user)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("#me")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_an_incident_through_the_console(itsm: Any, org: Any, small_pages: None, server: str,  # noqa: F811
                                        shots: Path) -> None:
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
            assert "urgency=high" in page.url and "csrf_token" not in page.url  # only Save carries the token
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
            page.fill("#note-text", "Asked the user to try the VPN from home tonight")
            page.click("#note-public")
            page.fill("#note-text", "Suspect the home router's MTU")
            page.click("#note-internal")
            expect(page.locator("#history li.internal").last).to_contain_text("MTU")
            expect(page.locator("#history li.public", has_text="tonight")).to_have_count(1)
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

            # a major incident declared from the board, by the incident's key
            page.goto(server + "/desk/new")
            page.fill("#title", "Claims system down for everyone")
            page.select_option("#service", "claims")
            page.click("#save")
            page.wait_for_selector("#form-declare_major")
            down = page.inner_text("#ticket-key").strip()
            page.click("text=Major-incident board")
            page.fill("#declare-key", down)
            page.click("#declare-go")
            page.fill("#declare-declare_major-reason", "All branches cannot file claims")
            page.click("#declare-do-declare_major")
            page.wait_for_selector(f"#board a[href$='/t/{down}']")  # its linked incident, on the board
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
            for name, path in (("17-board-390", "/desk/board"), ("18-ticket-390", f"/desk/t/{key}"),
                               ("19-intake-390", "/desk/new")):
                page.goto(server + path)
                # readable at 390 px: nothing wider than the screen but the tables' own scroll boxes
                assert page.evaluate("document.documentElement.scrollWidth") <= 390
                page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
            page.keyboard.press("Tab")  # keyboard: the first stop skips to the content
            assert page.evaluate("document.activeElement.className") == "skip"
            page.keyboard.press("Enter")
            assert page.url.endswith("#main")
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

            # a service request through the same intake: the process and the offering pick the fields
            live = browser.new_context(viewport={"width": 390, "height": 500}, locale="en-GB")
            agent = live.new_page()
            agent.set_default_timeout(30_000)
            _login(agent, server, org.agent.id)
            agent.goto(server + "/desk/new")
            agent.select_option("#process", "service_request")  # the script asks for its fields
            agent.wait_for_selector("#offering")
            agent.select_option("#offering", "identity.password_reset")
            agent.wait_for_selector("#intake-target_user")
            agent.fill("#intake-target_user", "li.na@example.com")
            agent.fill("#caller-find", "li.na@example.com")
            agent.click("#find")
            assert agent.input_value("#intake-target_user") == "li.na@example.com"  # kept by the look-up
            agent.click("#save")
            agent.wait_for_selector("#status-link")
            request = agent.inner_text("#ticket-key").strip()
            assert request.startswith("REQ-")

            # the queue refreshes without a reload and keeps its place: filter, sort, page, scroll
            for title in ("Printer jams: tray 1", "Printer jams: tray 2", "Printer jams: tray 3"):
                itsm("new", "incident", "--title", title, "--reporter", "li.na@example.com", user=org.agent.id)
            live.clock.install()
            place = server + "/desk?queue=unassigned&q=printer&sort=key&page=2"
            agent.goto(place)
            assert "3–3 of 3" in agent.inner_text("#count")
            agent.evaluate("window.scrollTo(0, 120); window.kept = true")
            scrolled = agent.evaluate("window.scrollY")
            assert scrolled > 0
            fresh = itsm.json("new", "incident", "--title", "Printer jams: tray 4",
                              "--reporter", "li.na@example.com", user=org.agent.id)["key"]
            live.clock.fast_forward("00:31")  # past the 30 s poll
            expect(agent.locator("#rows")).to_contain_text(fresh)
            expect(agent.locator("#count")).to_contain_text("3–4 of 4")
            assert agent.evaluate("window.kept") is True and agent.url == place  # no reload, same place
            assert agent.input_value("#q") == "printer" and agent.evaluate("window.scrollY") == scrolled
            assert "tray 1" not in agent.inner_text("#rows")  # still page 2, sorted by key
            agent.screenshot(path=str(shots / "20-queue-live-390.png"), full_page=True)
            live.close()

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
