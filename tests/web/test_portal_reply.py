"""The portal talks back: the status page shows the desk's question, takes the
reporter's answer with files (a pending ticket resumes), and offers the
ticket's public files for download; the JSON API attaches and downloads."""

from __future__ import annotations

import hashlib
import re

from _web import Web

PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d4944415478da63f8cfc0f01f0005000201a5f1b1e10000000049454e44ae426082")


def pending(web: Web) -> tuple[str, str]:
    key, token = web.report()
    web.call("POST", f"/api/v1/tickets/{key}/actions/assign", who="agent",
             json={"set": {"group": "desktop_support", "assignee": "chen.jie"}})
    web.call("POST", f"/api/v1/tickets/{key}/actions/start", who="desktop")
    web.call("POST", f"/api/v1/tickets/{key}/actions/pend", who="desktop",
             json={"set": {"reason": "Need your asset tag"}})
    return key, token


def test_the_reporter_answers_the_question_with_a_file_and_work_resumes(web: Web) -> None:
    key, token = pending(web)
    page = web.client.get(f"/status/{key}", params={"token": token})
    assert "Need your asset tag" in page.text and 'id="reply-text"' in page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    r = web.client.post(f"/reply/{key}", data={"csrf_token": csrf, "token": token,
                                                "text": "The tag is CN-4711"},
                        files={"files": ("截图.png", PNG, "text/html")}, follow_redirects=False)
    assert r.status_code == 303, r.text[:2000]
    shown = web.call("GET", f"/api/v1/tickets/{key}", who="agent")
    assert shown["state"] == "in_progress"
    [meta] = shown["attachments"]
    assert meta["filename"] == "截图.png" and meta["content_type"] == "image/png"  # sniffed, not as sent
    assert meta["sha256"] == hashlib.sha256(PNG).hexdigest()
    # the file is an event like the reply: one change each (audit verify derives the version)
    history = web.call("GET", f"/api/v1/tickets/{key}/history", who="agent")
    assert shown["version"] == len(history) and "attach" in [e["action"] for e in history]
    page = web.client.get(f"/status/{key}", params={"token": token})
    assert "The tag is CN-4711" in page.text and "截图.png" in page.text
    link = re.search(r'href="([^"]*/files/\d+[^"]*)"', page.text).group(1).replace("&amp;", "&")
    got = web.client.get(link)
    assert got.status_code == 200 and got.content == PNG
    assert got.headers["content-disposition"].startswith("attachment;")
    assert got.headers["x-content-type-options"] == "nosniff"
    assert web.client.get(f"/status/{key}/files/{meta['id']}", params={"token": "wrong"}).status_code == 404


def test_an_empty_reply_is_refused_and_changes_nothing(web: Web) -> None:
    key, token = pending(web)
    page = web.client.get(f"/status/{key}", params={"token": token})
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    r = web.client.post(f"/reply/{key}", data={"csrf_token": csrf, "token": token, "text": "  "})
    assert r.status_code == 422
    assert web.call("GET", f"/api/v1/tickets/{key}", who="agent")["state"] == "pending"


def test_the_api_attaches_and_downloads_and_internal_files_stay_internal(web: Web) -> None:
    key, token = web.report()
    done = web.call("POST", f"/api/v1/tickets/{key}/attachments", who="agent", expect=201,
                    params={"filename": "../../etc/client.log", "internal": "true"},
                    content=b"2026-03-02 tunnel down\n",
                    headers={"Content-Type": "application/octet-stream"})
    assert done["filename"] == "client.log" and done["content_type"] == "text/plain"
    got = web.call("GET", f"/api/v1/tickets/{key}/attachments/{done['id']}", who="agent")
    assert got.content == b"2026-03-02 tunnel down\n"
    assert web.client.get(f"/status/{key}/files/{done['id']}", params={"token": token}).status_code == 404
    # internal files are for those who read internal notes (internal_notes): not an approver's
    web.call("GET", f"/api/v1/tickets/{key}/attachments/{done['id']}", who="approver", expect=404)
    err = web.call("POST", f"/api/v1/tickets/{key}/attachments", who="approver", expect=403,
                   params={"filename": "memo.txt", "internal": "true"}, content=b"internal memo",
                   headers={"Content-Type": "application/octet-stream"})
    assert "internal_notes" in err["message"] and "attach an internal file" in err["message"]
    public = web.call("POST", f"/api/v1/tickets/{key}/attachments", who="approver", expect=201,
                      params={"filename": "quote.txt"}, content=b"the quote",
                      headers={"Content-Type": "application/octet-stream"})
    assert web.call("GET", f"/api/v1/tickets/{key}/attachments/{public['id']}", who="approver").content == b"the quote"
    huge = 2 ** 64 + 1  # no database integer: no such attachment, not an internal error
    web.call("GET", f"/api/v1/tickets/{key}/attachments/{huge}", who="agent", expect=404)
    assert web.client.get(f"/status/{key}/files/{huge}", params={"token": token}).status_code == 404
    history = web.call("GET", f"/api/v1/tickets/{key}/history", who="agent")
    event, _ = [e for e in history if e["action"] == "attach"]  # the agent's, the approver's
    assert event["changes"]["attachment"]["sha256"] == hashlib.sha256(b"2026-03-02 tunnel down\n").hexdigest()
