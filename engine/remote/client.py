"""The desk server's JSON API as the facade the agent commands call.

:class:`RemoteApi` has the methods of engine.api.Api that the agent commands use,
with the same arguments and the same results (the server returns what the Api
returns), so the commands render the same text from them.  Each call is one
HTTP request (engine.remote.http: a timeout, a bounded response).  Errors come back as the
server's body ``{"error", "message", "exit_code", ...}`` and are raised as
:class:`RemoteError` with that exit code; a refused token (401) and an
unreachable server get messages of their own.
"""

from __future__ import annotations

import json
TYPE_CHECKING = False  # typing is not imported at run time (start-up of a remote command)
if TYPE_CHECKING:
    from typing import Any, Mapping, Sequence

from engine import __version__
from engine.errors import ExitCode, ItsmError, UsageError
from engine.i18n import N_, Said, message
from engine.remote import http

TIMEOUT = 30.0  # seconds per request (connect and each read)
MAX_RESPONSE = 64 * 1024 * 1024  # bytes: a larger answer is refused, not read
LIST_ALL = 1000  # the server's largest page of `itsm list`

NOT_REMOTE = N_("{what} works on the database directly and has no remote mode: "
                 "run it where the database is (without --url / ITSM_URL)")


class RemoteError(ItsmError):
    """An error the desk server answered (or the lack of an answer), with the
    exit code the CLI returns for it."""

    def __init__(self, message: str, exit_code: int, kind: str = "error",
                 values: Mapping[str, Any] | None = None, **details: Any) -> None:
        super().__init__(message, values, **details)
        self.kind = kind
        try:
            self.exit_code = ExitCode(exit_code)
        except ValueError:
            self.exit_code = ExitCode.INTERNAL


def login_hint(url: str) -> Said:
    return message(N_("run 'itsm login {url}' (or set ITSM_TOKEN)"), url=url)


def _known(text: str) -> Said:
    """The server's (English) message, in the reader's language when the catalogue knows it
    as it stands (a message without values)."""
    return message(text)


class RemoteApi:
    """The desk at ``url`` acting with ``token``; ``user`` (``--as``) is sent as
    ``X-Itsm-As`` and the server decides; ``now`` (``--now``) as ``X-Itsm-Now``,
    which only a server started with ``--client-clock`` accepts."""

    remote = True

    def __init__(self, url: str, token: str | None, user: str | None = None, now: str | None = None,
                 lang: str = "en", timeout: float = TIMEOUT, token_user: str | None = None) -> None:
        self._defs: Any = False  # not asked yet
        self.url = normalize_url(url)
        self.token = token
        self.token_user = token_user  # whose the token is, where itsm login noted it
        self.user = user
        self.now_text = now
        self.lang = lang
        self.timeout = timeout

    @property
    def defs(self) -> Any:
        """The server's definitions as far as their labels go (engine.remote.labels),
        for a command in another language than English (commands.common.Labels);
        asked once.  None in English, and when the labels cannot be had (an older
        server without the route, an answer that is not a label document, a refusal
        or an unreachable server): ids then."""
        if self._defs is False:
            self._defs = None
            if self.lang != "en":
                from engine.remote.labels import LabelsMalformed, RemoteDefinitions

                try:  # asked after a write (the text of `new`, `do`): whatever goes wrong here
                    # must not make a change that was made look failed, so the ids are shown
                    self._defs = RemoteDefinitions(self.request("GET", "/labels"))
                except (RemoteError, LabelsMalformed, RecursionError):
                    pass
        return self._defs

    def event_labels(self, process: str) -> dict[str, dict[str, str]]:
        """The labels a journal is shown with (engine.i18n.event_labels), from the
        server's (:attr:`defs`); none without them."""
        from engine.i18n import event_labels

        return event_labels(self.defs, process, self.lang) if self.defs is not None else {}

    # -- one request ---------------------------------------------------------------------
    def request(self, method: str, path: str, body: Any = None, query: Sequence[tuple[str, Any]] = (),
                as_user: str | None = None, raw: bool = False) -> Any:
        params = [(k, _param(v)) for k, v in query if v is not None and v is not False]
        target = self.url + "/api/v1" + path + ("?" + _encoded(params) if params else "")
        headers = {"Accept": "application/json", "Accept-Language": self.lang,
                   "User-Agent": f"itsm/{__version__}"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        acting = as_user if as_user is not None else self.user
        if acting and acting.strip().lower() != (self.token_user or "").lower():  # not oneself
            headers["X-Itsm-As"] = acting
        if self.now_text:
            headers["X-Itsm-Now"] = self.now_text
        data = None
        if body is not None:
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
            headers["Content-Type"] = "application/json"
        try:
            status, payload = http.request(method, target, headers, data, self.timeout, MAX_RESPONSE)
        except (OSError, ValueError) as exc:  # refused, reset, timed out, no such host, not HTTP
            raise RemoteError(N_("cannot reach the desk server at {url}: {exc}"), ExitCode.INTERNAL,
                              "unreachable", values={"url": self.url, "exc": exc}) from None
        if len(payload) > MAX_RESPONSE:
            raise RemoteError(N_("the desk server's answer is larger than {value} MB; narrow the request"), ExitCode.INTERNAL, "protocol",
                              values={"value": MAX_RESPONSE // (1024 * 1024)})
        if status >= 400:
            raise self._error(status, payload, login=(method, path) == ("POST", "/session"))
        if status == 204 or not payload:
            return None
        try:
            return json.loads(payload)
        except (ValueError, RecursionError):  # not JSON, or nested deeper than the parser goes
            raise RemoteError(N_("the desk server at {url} answered {status} with something that is not JSON "
                                 "(is it an itsm server?)"), ExitCode.INTERNAL, "protocol", values={"url": self.url, "status": status}) from None

    def _error(self, status: int, payload: bytes, login: bool = False) -> RemoteError:
        try:
            body = json.loads(payload) if payload else {}
        except ValueError:
            body = {}
        if not isinstance(body, dict) or "message" not in body:
            body = {"error": "http", "message": message(N_("the desk server at {url} answered HTTP {status}"),
                                                        url=self.url, status=status),
                    "exit_code": int(ExitCode.INTERNAL if status >= 500 else ExitCode.REFUSED)}
        answered, code, said_as = body["message"], body.get("exit_code"), body.get("text")
        if isinstance(said_as, str):  # the server said it in our language (Accept-Language) too
            answered = Said(str(answered), lambda lang: said_as if lang == self.lang else str(body["message"]))
        answered = answered if isinstance(answered, Said) else str(answered)
        details = {k: v for k, v in body.items() if k not in ("error", "message", "exit_code", "text")}
        if status == 401 and login:  # a password refused: the server's words
            return RemoteError("{url}: {message}", ExitCode.REFUSED, "unauthenticated", **details,
                               values={"url": self.url, "message": _known(answered)})
        if status == 401:
            why = N_("no token") if not self.token else N_("the token is invalid, expired or revoked")
            return RemoteError(N_("{url} refused the request: {why}; {hint}"),
                               ExitCode.REFUSED, "unauthenticated", **details,
                               values={"url": self.url, "why": message(why), "hint": login_hint(self.url)})
        if status == 503:
            code = ExitCode.INTERNAL
        return RemoteError("{message}", int(code) if isinstance(code, int) else int(ExitCode.INTERNAL),
                           str(body.get("error") or "error"), values={"message": _known(answered)}, **details)

    def __getattr__(self, name: str) -> Any:  # a facade method the server does not offer
        if name.startswith("_"):
            raise AttributeError(name)
        raise UsageError(NOT_REMOTE, values={"what": message(N_("this command ({name})"),
                                                             name=name.replace("_", " "))})

    # -- the session (itsm whoami, logout) -----------------------------------------------------
    def session(self) -> dict[str, Any]:
        return dict(self.request("GET", "/session", as_user=""))  # the token's own user

    def end_session(self) -> None:
        self.request("DELETE", "/session", as_user="")

    def login(self, user: str, password: str) -> dict[str, Any]:
        return dict(self.request("POST", "/session", {"user": user, "password": password}))

    # -- the agent commands ------------------------------------------------------------------
    def new_ticket(self, process: str, values: Mapping[str, Any], note: str | None = None,
                   actor_id: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"process": process, "set": dict(values)}
        if note is not None:
            body["note"] = note
        return dict(self.request("POST", "/tickets", body, as_user=actor_id))

    def do(self, key: str, action: str, inputs: Mapping[str, Any], note: str | None = None,
           expect_version: int | None = None, actor_id: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"set": dict(inputs)}
        if note is not None:
            body["note"] = note
        if expect_version is not None:
            body["expect_version"] = expect_version
        return dict(self.request("POST", f"/tickets/{_seg(key)}/actions/{_seg(action)}", body,
                                 as_user=actor_id))

    def comment(self, key: str, text: str, public: bool = False,
                actor_id: str | None = None) -> dict[str, Any]:
        return dict(self.request("POST", f"/tickets/{_seg(key)}/comments", {"text": text, "public": public},
                                 as_user=actor_id))

    def link(self, key: str, target: str, relation: str | None = None,
             actor_id: str | None = None) -> dict[str, Any]:
        body = {"parent": target, **({"relation": relation} if relation else {})}
        return dict(self.request("PUT", f"/tickets/{_seg(key)}/parent", body, as_user=actor_id))

    def show(self, key: str) -> dict[str, Any]:
        return dict(self.request("GET", f"/tickets/{_seg(key)}"))

    def history(self, key: str) -> list[dict[str, Any]]:
        return list(self.request("GET", f"/tickets/{_seg(key)}/history"))

    def actions(self, key: str, actor_id: str | None = None) -> list[dict[str, Any]]:
        return list(self.request("GET", f"/tickets/{_seg(key)}/actions", as_user=actor_id))

    def list(self, breached: bool = False, at_risk: bool = False, **filters: Any) -> list[dict[str, Any]]:
        limit = filters.get("limit")
        query: list[tuple[str, Any]] = [("state", s) for s in filters.get("states") or ()]
        query += [(name, filters.get(name)) for name in ("process", "assignee", "group", "service",
                                                           "priority", "parent")]
        query += [("open", filters.get("open_only")), ("breached", breached), ("at_risk", at_risk),
                  ("limit", LIST_ALL if limit is None else min(int(limit), LIST_ALL))]
        return list(self.request("GET", "/tickets", query=query))

    def search(self, text: str, process: str | None = None, resolved: bool = False,
               limit: int = 20, actor_id: str | None = None) -> list[dict[str, Any]]:
        return list(self.request("GET", "/search", query=[("q", text), ("process", process),
                                                          ("resolved", resolved), ("limit", limit)],
                                 as_user=actor_id))

    def similar(self, key: str, limit: int = 5, actor_id: str | None = None) -> list[dict[str, Any]]:
        return list(self.request("GET", f"/tickets/{_seg(key)}/similar", query=[("limit", limit)],
                                 as_user=actor_id))

    def offered(self, key: str, actor_id: str | None = None, limit: int = 3) -> list[dict[str, Any]] | None:
        """The known solutions ``itsm new`` shows staff: the server's similar tickets
        (None where the server refuses them: an end user)."""
        try:
            return self.similar(key, limit=limit, actor_id=actor_id)
        except RemoteError as exc:
            if exc.exit_code == ExitCode.REFUSED:
                return None
            raise

    def status(self, key: str, token: str) -> dict[str, Any]:
        return dict(self.request("GET", f"/tickets/{_seg(key)}/status", query=[("token", token)]))

    def major_board(self) -> list[dict[str, Any]]:
        return list(self.request("GET", "/major/board"))

    def report(self, name: str, start: str | None, end: str | None, fmt: str, current: bool) -> str:
        answer = self.request("GET", f"/reports/{_seg(name)}",
                              query=[("from", start), ("to", end), ("format", fmt), ("current", current)])
        return str(answer["text"])


def normalize_url(url: str) -> str:
    """``https://desk.example.com/itsm/`` -> ``https://desk.example.com/itsm``
    (http and https only; a bare host gets http://)."""
    text = (url or "").strip()
    if "://" not in text:
        text = "http://" + text
    try:
        parts = http.split_url(text)
    except ValueError:  # a port that is not a number or above 65535, a broken IPv6 address
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc or parts.query \
            or parts.fragment:
        raise UsageError(N_("--url: {url!r} is not the address of a desk server (e.g. "
                            "https://desk.example.com or http://127.0.0.1:8080)"), values={"url": url})
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def _seg(text: str) -> str:
    return http.quote_segment(str(text))


def _encoded(params: list[tuple[str, str]]) -> str:
    import urllib.parse  # only commands with query parameters (list, search...) pay for it

    return urllib.parse.urlencode(params)


def _param(value: Any) -> str:
    if value is True:
        return "true"
    return str(value)
