"""The JSON API, /api/v1: tickets (create, show, list, actions, comments,
history) and monitoring alerts, for agents and integrations.

Each request is authenticated by an API key (engine/desk/apikeys.py) and acts as the
key's user, with that user's roles, exactly as ``itsm --as USER`` would.  The key
is checked first, before the body is read (:class:`KeyFirst`), so a request
without one costs no more than its headers.  The handlers only parse, call
engine.api and return its result; errors are mapped in engine/web/app.py.
"""

from __future__ import annotations

from typing import Any, Callable, Coroutine, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.concurrency import run_in_threadpool

from engine.errors import ActionRefused, UsageError
from engine.limits import nul_at
from engine.web.requests import JsonRequest, api_for, is_json, server_api

bearer = HTTPBearer(auto_error=False, scheme_name="ApiKey",
                    description="An API key from `itsm apikey create --user USER`: "
                                "`Authorization: Bearer itsm_...`")


IMPERSONATE_HEADER = "x-itsm-as"


def client_address(request: Request) -> str:
    """The client's address (the proxy's client when [web] trusted_proxies trusts it)."""
    return request.client.host if request.client else "unknown"


def scope_of(request: Request) -> str | None:
    """The scope a request needs: ``alerts`` for /alerts, ``read`` for other reads,
    ``write`` for other writes; None for /session (who am I, log out)."""
    path = request.scope.get("path", "")
    if path.rstrip("/").endswith("/session"):
        return None
    if path.rstrip("/").endswith("/alerts"):
        return "alerts"
    return "read" if request.method in ("GET", "HEAD") else "write"


async def check_key(request: Request) -> None:
    """InvalidApiKey (401) unless the request carries a valid API key: what a request
    to an API path without a route of its method must pass before its 405."""
    credentials = await bearer(request)
    await run_in_threadpool(server_api(request).authenticate_key, credentials.credentials if credentials else None)


async def _authenticate(request: Request) -> str:
    """The id of the acting person (InvalidApiKey, 401, without a valid key): the
    key's, or with ``X-Itsm-As`` the person its holder acts for (403 unless the
    holder has the impersonate permission).  Also refuses (403) a request the key's
    scopes, capped by its person's roles, do not allow, and (429) a key past
    ``[security] api_per_minute``.  ``request.state.key`` keeps what the key may do."""
    credentials = await bearer(request)
    api = server_api(request)  # keys are checked on the server's clock, whatever X-Itsm-Now says
    key = await run_in_threadpool(api.authenticate_key, credentials.credentials if credentials else None)
    request.state.key = key
    request.state.user = key["user"]
    request.app.state.limits.hit(f"key:{key['key_id']}", api.settings.security.api_per_minute, 60.0,
                                 "requests with this API key")
    need = scope_of(request)
    if need is not None and need not in key["scopes"]:
        raise ActionRefused(f"this API key may not {need}: its scopes are "
                            f"{', '.join(key['scopes']) or 'none'} (a key's scopes are capped by "
                            f"its person's roles, codes/permissions.yaml)", allowed_roles=[need])
    origin: dict[str, Any] = {"mode": "api", "key": key["key_id"]}
    claimed = request.headers.get(IMPERSONATE_HEADER)
    if claimed is not None:
        claimed = claimed.strip()
        if claimed.lower() == "system":
            raise ActionRefused("'system' is the engine's own actor and cannot be claimed",
                                allowed_roles=["system"])
        if not claimed or len(claimed) > 254:
            raise UsageError("X-Itsm-As: give the id or e-mail of the person to act for")
        if not await run_in_threadpool(_is_self, api, str(key["user"]), claimed):
            if "impersonate" not in key["permissions"]:
                raise ActionRefused(f"{key['user']} may not act on behalf of others (X-Itsm-As): it "
                                    "needs the 'impersonate' permission (codes/permissions.yaml)",
                                    allowed_roles=["impersonate"])
            origin["by"] = request.state.by = key["user"]
            request.state.user = claimed
    api.act_from(origin)
    return str(request.state.user)


def _is_self(api: Any, user: str, claimed: str) -> bool:
    """Whether ``X-Itsm-As: claimed`` names the key's own person (by id or e-mail, in
    any case): acting as oneself is not acting for another (the remote CLI sends the
    header when it does not know whose a token is)."""
    if claimed.lower() == user.lower():
        return True
    from engine.errors import NotFound

    try:
        return str(api.user(claimed)["id"]) == user
    except NotFound:
        return False


class KeyFirst(APIRoute):
    """A route of the API that checks the API key before anything else: FastAPI
    reads a body before it solves the dependencies, so without this a request
    with no valid key would still be read whole before its 401.  A JSON body is
    then read strictly (engine/web/requests.py decode_json), so that what is
    wrong with it is said (400) rather than FastAPI's "error parsing the body"."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()
        takes_body = self.body_field is not None

        async def key_first(request: Request) -> Response:
            request = JsonRequest(request.scope, request.receive)
            await _authenticate(request)
            if takes_body and is_json(request.headers.get("content-type")) and await request.body():
                await request.json()  # FastAPI reads the same, kept, data
            return await handle(request)

        return key_first


class Strict(APIRoute):
    """A route without a key (logging in) whose JSON body is read strictly, as :class:`KeyFirst`'s."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def strict(request: Request) -> Response:
            request = JsonRequest(request.scope, request.receive)
            api_for(request).act_from({"mode": "api"})
            if is_json(request.headers.get("content-type")) and await request.body():
                await request.json()
            return await handle(request)

        return strict


router = APIRouter(prefix="/api/v1", route_class=KeyFirst)
session_router = APIRouter(prefix="/api/v1", route_class=Strict)

Scalar = str | int | float | bool | None


def _no_nul(value: Any, where: str = "body") -> None:
    found = nul_at(value, where)
    if found is not None:
        raise UsageError(f"{found}: contains a NUL character")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _text(cls, data: Any) -> Any:
        _no_nul(data)
        return data


class NewTicket(_Body):
    """A new incident, service request... (the single intake, as ``itsm new``)."""

    process: str = Field(max_length=64, examples=["incident"])
    title: str | None = Field(None, max_length=500, examples=["Cannot log in to claims"])
    description: str | None = Field(None, max_length=20000)
    reporter: str | None = Field(None, max_length=254, examples=["li.na@example.com"],
                                 description="The reporter's e-mail (default: the key's user).")
    reporter_phone: str | None = Field(None, max_length=40)
    urgency: str | None = Field(None, max_length=64, examples=["high"])
    impact: str | None = Field(None, max_length=64, examples=["medium"])
    service: str | None = Field(None, max_length=64, examples=["claims"])
    category: str | None = Field(None, max_length=64)
    fields: dict[str, Scalar] = Field(default_factory=dict, alias="set",
                                      description="Other fields of the process, as `--set k=v`.")
    note: str | None = Field(None, max_length=20000, description="A note for the journal.")


class ActionRequest(_Body):
    """An action's inputs, as ``itsm do KEY ACTION --set k=v --note TEXT``."""

    fields: dict[str, Scalar] = Field(default_factory=dict, alias="set",
                                      examples=[{"solution": "Reset the VPN token",
                                                 "closure_code": "solved", "service_restored": True}])
    note: str | None = Field(None, max_length=20000)
    expect_version: int | None = Field(None, strict=True,  # 3.0 and true are not versions
                                       description="Refuse (409) unless the ticket is still "
                                                   "at this version (the `version` of show).")


class NewComment(_Body):
    text: str = Field(min_length=1, max_length=20000)
    public: bool = Field(False, strict=True, description="Visible to the end user on the status page.")


class LinkRequest(_Body):
    """The ticket to link a ticket to, as ``itsm link KEY TARGET [--rel RELATION]``."""

    parent: str = Field(min_length=1, max_length=32, examples=["MI-000001"])
    relation: str | None = Field(None, min_length=1, max_length=64, examples=["related"],
                                 description="A relation the process declares (default: the default relation "
                                             "between the two processes, e.g. part_of).")


class ErrorBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    error: str = Field(examples=["refused"])
    message: str
    exit_code: int = Field(description="The exit code `itsm` returns for this error.")


class TicketOut(BaseModel):
    """A ticket, as ``itsm show --json`` prints it."""

    model_config = ConfigDict(extra="allow")
    key: str
    process: str
    state: str
    state_label: str | None = None
    status: str
    category: str
    priority: str | None = None
    urgency: str | None = None
    impact: str | None = None
    title: str | None = None
    description: str | None = None
    reporter: str | None = None
    assignee: str | None = None
    group: str | None = None
    service: str | None = None
    parent: str | None = None
    fields: dict[str, Any] = {}
    sla: dict[str, Any] | None = None
    version: int
    created_at: str | None = None
    updated_at: str | None = None


class NewTicketOut(TicketOut):
    status_token: str = Field(description="The end user's status token (GET /status/KEY?token=...).")


class EventOut(BaseModel):
    """A journal event, as ``itsm history --json`` prints it."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)
    seq: int
    action: str
    actor: str
    from_state: str | None = Field(None, alias="from")
    to: str | None = None
    changes: dict[str, Any] = {}
    note: str | None = None
    at: str | None = None


class WhoamiOut(BaseModel):
    """Who the token acts as, as ``itsm whoami --json`` prints it."""

    model_config = ConfigDict(extra="allow")
    user: str
    name: str | None = None
    roles: list[str]
    role_labels: dict[str, dict[str, str]] = Field(default_factory=dict, description="The roles' labels "
                                                   "by language: {role: {en, zh}}.")
    key_id: int
    expires_at: str | None = Field(None, description="When the token expires (null: never).")
    scopes: list[str] | None = Field(None, description="What the token may do (absent: everything "
                                                       "its user may).")


class SearchHit(BaseModel):
    """A ticket found, as ``itsm search --json`` / ``itsm similar --json`` print it."""

    model_config = ConfigDict(extra="allow")
    key: str
    state: str
    title: str | None = None
    score: float


class ReportOut(BaseModel):
    report: str
    format: str
    text: str = Field(description="The rendered report, as `itsm report NAME --format F` prints it.")


class ActionOut(BaseModel):
    action: str
    label: str | None = None
    to: str | None = None
    requires: list[str]
    accepts: list[str]
    roles: list[str]


class AlertSummary(BaseModel):
    """What ``itsm intake --json`` prints."""

    model_config = ConfigDict(extra="allow")
    alerts: int
    groups: int
    created: int
    noted: int
    counted: int
    resolved_noted: int
    ignored: int
    failed: int
    results: list[dict[str, Any]]


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    text = {400: "Malformed request", 401: "No valid API key", 403: "The key's user lacks the role, "
            "the key the scope, or X-Itsm-As the impersonate permission", 429: "Too many requests "
            "with this key ([security] api_per_minute): see Retry-After",
            404: "No such ticket (or process, user)", 409: "Changed concurrently or not at "
            "expect_version: re-read and retry", 413: "The body is larger than the server's limit "
            "([web] max_body_bytes)", 422: "Refused: fields missing, a guard or close "
            "criterion failed, or not available now", 503: "The database is unavailable"}
    return {c: {"model": ErrorBody, "description": text[c]} for c in (400, 401, *codes, 429, 503)}


def current_user(request: Request,
                 credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> str:
    """The id of the API key's user (401 without a valid key), as :class:`KeyFirst`
    found it before the body was read; the dependency puts the key's security
    scheme in /openapi.json."""
    user = getattr(request.state, "user", None)
    if user is None:  # a route not made by KeyFirst
        user = server_api(request).authenticate(credentials.credentials if credentials else None)
        request.state.user = user
    return str(user)


@router.post("/tickets", status_code=201, response_model=None, tags=["tickets"],
             summary="Log a new ticket", responses={201: {"model": NewTicketOut}, **_errors(403, 404, 413, 422)})
def create_ticket(request: Request, body: NewTicket, user: str = Depends(current_user)) -> JSONResponse:
    """The single intake for incidents and service requests, as `itsm new`."""
    values: dict[str, Any] = {k: v for k, v in body.model_dump(exclude={"process", "fields", "note"}).items()
                              if v is not None}
    values.update(body.fields)
    ticket = api_for(request).new_ticket(body.process, values, body.note, actor_id=user)
    return JSONResponse(ticket, status_code=201,
                        headers={"Location": str(request.url_for("show_ticket", key=ticket["key"]))})


@router.get("/tickets", response_model=None, tags=["tickets"], summary="List tickets (queues)",
            responses={200: {"model": list[TicketOut]}, **_errors()})
def list_tickets(request: Request, user: str = Depends(current_user),
                 process: str | None = Query(None, max_length=64),
                 state: list[str] = Query([], description="Only tickets in these states (repeatable)."),
                 open: bool = Query(False, description="Only tickets not closed."),
                 assignee: str | None = Query(None, max_length=64),
                 group: str | None = Query(None, max_length=64),
                 service: str | None = Query(None, max_length=64),
                 priority: str | None = Query(None, max_length=64),
                 parent: str | None = Query(None, max_length=32),
                 breached: bool = Query(False, description="Only open tickets with a breached SLA clock."),
                 at_risk: bool = Query(False, description="Only open tickets past an SLA warning threshold."),
                 limit: int = Query(100, ge=1, le=1000)) -> list[dict[str, Any]]:
    """Tickets matching the filters, as `itsm list`."""
    return api_for(request).list(process=process, states=tuple(state), open_only=open, assignee=assignee,
                                 group=group, service=service, priority=priority,
                                 parent=parent.upper() if parent else None, limit=limit,
                                 breached=breached, at_risk=at_risk)


@router.get("/tickets/{key}", name="show_ticket", response_model=None, tags=["tickets"],
            summary="Show a ticket", responses={200: {"model": TicketOut}, **_errors(404)})
def show_ticket(request: Request, key: str, user: str = Depends(current_user)) -> dict[str, Any]:
    """The ticket with its SLA clocks as of now, as `itsm show`."""
    return api_for(request).show(key)


@router.get("/tickets/{key}/actions", response_model=None, tags=["tickets"],
            summary="What the key's user can do now", responses={200: {"model": list[ActionOut]}, **_errors(404, 422)})
def ticket_actions(request: Request, key: str, user: str = Depends(current_user)) -> list[dict[str, Any]]:
    """The actions available to the key's user now, with what each requires, as `itsm actions`."""
    return api_for(request).actions(key, actor_id=user)


@router.post("/tickets/{key}/actions/{action}", response_model=None, tags=["tickets"],
             summary="Perform an action", responses={200: {"model": TicketOut}, **_errors(403, 404, 409, 413, 422)})
def perform_action(request: Request, key: str, action: str, body: ActionRequest | None = None,
                   user: str = Depends(current_user)) -> dict[str, Any]:
    """Any action of the ticket's process, as `itsm do KEY ACTION`."""
    body = body or ActionRequest()
    return api_for(request).do(key, action, body.fields, body.note, body.expect_version, actor_id=user)


@router.post("/tickets/{key}/comments", status_code=201, response_model=None, tags=["tickets"],
             summary="Comment on a ticket", responses={201: {"model": EventOut}, **_errors(403, 404, 409, 413)})
def add_comment(request: Request, key: str, body: NewComment,
                user: str = Depends(current_user)) -> JSONResponse:
    """A journal note without a state change, as `itsm comment`."""
    event = api_for(request).comment(key, body.text, body.public, actor_id=user)
    return JSONResponse(event, status_code=201)


@router.get("/tickets/{key}/history", response_model=None, tags=["tickets"],
            summary="A ticket's journal", responses={200: {"model": list[EventOut]}, **_errors(404)})
def ticket_history(request: Request, key: str, user: str = Depends(current_user)) -> list[dict[str, Any]]:
    """The journal, as `itsm history`; without internal notes for a person without
    the internal_notes permission."""
    return api_for(request).history(key, actor_id=user)


FILE_BODY = {"required": True, "content": {"application/octet-stream": {
    "schema": {"type": "string", "format": "binary"}}}}


@router.post("/tickets/{key}/attachments", status_code=201, response_model=None, tags=["tickets"],
             summary="Attach a file", responses={**_errors(403, 404, 413, 422)},
             openapi_extra={"requestBody": FILE_BODY})
async def add_attachment(request: Request, key: str, filename: str = Query(..., max_length=255),
                         internal: bool = False, user: str = Depends(current_user)) -> JSONResponse:
    """The request body is the file, as `itsm attach KEY FILE`: stored with its
    SHA-256, its content type sniffed, journaled."""
    data = await request.body()
    done = await run_in_threadpool(api_for(request).attach, key, filename, data, not internal, user)
    return JSONResponse(done, status_code=201)


@router.get("/tickets/{key}/attachments/{attachment_id}", response_model=None, tags=["tickets"],
            summary="Download an attachment", responses={**_errors(404)})
def get_attachment(request: Request, key: str, attachment_id: int,
                   user: str = Depends(current_user)) -> Response:
    """The file's bytes, always as a download (nosniff, sandboxed)."""
    from urllib.parse import quote

    meta, data = api_for(request).attachment(key, attachment_id, user)
    return Response(data, media_type=str(meta["content_type"]), headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(str(meta['filename']))}",
        "X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox"})


ALERT_BODY = {"required": True, "content": {"application/json": {"schema": {
    "description": "A Prometheus Alertmanager webhook (version 4), or a generic JSON event "
                   "or a list of events: {source, fingerprint, status, summary, description, "
                   "labels, annotations, severity, service, time, url}.",
    "oneOf": [{"type": "object"}, {"type": "array", "items": {"type": "object"}}]}}}}


@router.post("/alerts", response_model=None, tags=["alerts"], summary="Monitoring alerts -> incidents",
             responses={200: {"model": AlertSummary}, **_errors(413)},
             openapi_extra={"requestBody": ALERT_BODY})
async def post_alerts(request: Request, user: str = Depends(current_user),
                      format: Literal["auto", "alertmanager", "event"] = Query("auto"),
                      source: str | None = Query(None, max_length=64,
                                                 description="The monitoring system (default: "
                                                             "'alertmanager' for webhooks).")) -> Any:
    """One open incident per alert group; repeats and resolutions are noted on it,
    as `itsm intake` (codes/alert_rules.yaml maps alerts to service, urgency,
    impact and category). Groups that could not be filed are listed in `errors`."""
    payload = await request.body()
    return await run_in_threadpool(api_for(request).ingest_alerts, payload, format, source)


class Login(_Body):
    """A person's id (or e-mail) and password, for a personal token (`itsm login`)."""

    user: str = Field(min_length=1, max_length=254, examples=["wang.lei"])
    password: str = Field(min_length=1, max_length=1024)


class SessionOut(BaseModel):
    token: str = Field(description="A personal token: `Authorization: Bearer itsm_...`; shown once.")
    user: str
    expires_at: str | None = Field(description="When the token expires (ISO 8601 with offset); "
                                               "null: until revoked.")


LOGIN_WINDOW = 15 * 60.0  # failed logins are counted over this many seconds


@session_router.post("/session", status_code=201, response_model=None, tags=["session"],
                     summary="Log in: a password for a personal token",
                     responses={201: {"model": SessionOut},
                                400: {"model": ErrorBody, "description": "Malformed request"},
                                401: {"model": ErrorBody, "description": "User or password wrong"},
                                429: {"model": ErrorBody, "description": "Too many failed logins for "
                                      "this user or from this address ([security] login_attempts per "
                                      "15 minutes): see Retry-After"},
                                503: {"model": ErrorBody, "description": "The database is unavailable"}})
def create_session(request: Request, body: Login) -> JSONResponse:
    """Exchange a password for a personal token (an API key labelled `login` that
    expires after `[security] token_days`), as `itsm login` does. An unknown user
    and a wrong password get the same 401; failed logins are throttled per user and
    per client address (429 with Retry-After)."""
    session = throttled_login(request, server_api(request), body.user, body.password)  # expiry: the server's clock
    return JSONResponse(session, status_code=201)


def throttled_login(request: Request, api: Any, user: str, password: str) -> dict[str, Any]:
    """``api.login`` with failed logins throttled per user and per client address
    (``[security] login_attempts`` per LOGIN_WINDOW): the JSON API's and the
    console's (engine/web/console.py) logins count together, per person (by id or
    e-mail alike)."""
    from engine.errors import NotFound

    limits = request.app.state.limits
    attempts = api.settings.security.login_attempts
    who = user.strip().lower()
    if 0 < len(who) <= 254:
        try:  # one budget per person, whether they type their id or their e-mail
            who = str(api.user(user.strip())["id"]).lower()
        except NotFound:
            pass  # an unknown name keeps its own count: the answer does not tell who exists
    names = (f"login-user:{who}", f"login-addr:{client_address(request)}")
    # counted before the password is checked (parallel guesses cannot all be checked),
    # taken back when it was right
    at = limits.reserve(names, attempts, LOGIN_WINDOW, "failed logins")
    session = dict(api.login(user.strip(), password))
    limits.release(names, at)
    return session


@router.get("/session", response_model=None, tags=["session"], summary="Who the token acts as",
            responses={200: {"model": WhoamiOut}, **_errors()})
def get_session(request: Request, user: str = Depends(current_user)) -> dict[str, Any]:
    """The token's user, name and roles, the key's id, when it expires and its scopes, as `itsm whoami`."""
    return server_api(request).session(request.state.key)


@router.delete("/session", status_code=204, response_model=None, tags=["session"],
               summary="Revoke the token presented", responses={204: {"description": "Revoked"}, **_errors()})
def end_session(request: Request, user: str = Depends(current_user)) -> Response:
    """Revokes the token this request presents, as `itsm logout`; later requests with it get 401."""
    server_api(request).end_session(request.state.key)
    return Response(status_code=204)


@router.put("/tickets/{key}/parent", response_model=None, tags=["tickets"],
            summary="Link a ticket to a parent", responses={200: {"model": TicketOut}, **_errors(403, 404, 409, 422)})
def link_ticket(request: Request, key: str, body: LinkRequest, user: str = Depends(current_user)) -> dict[str, Any]:
    """E.g. an incident to its major incident, as `itsm link KEY PARENT`; with `relation`,
    by that relation (`itsm link KEY --rel related TARGET`)."""
    return api_for(request).link(key, body.parent, body.relation, actor_id=user)


@router.get("/search", response_model=None, tags=["search"], summary="Full-text search",
            responses={200: {"model": list[SearchHit]}, **_errors()})
def search_tickets(request: Request, user: str = Depends(current_user),
                   q: str = Query(min_length=1, max_length=1000, description="The terms, as `itsm search TEXT`."),
                   process: str | None = Query(None, max_length=64),
                   resolved: bool = Query(False, description="Only tickets that were resolved."),
                   limit: int = Query(20, ge=1, le=1000)) -> list[dict[str, Any]]:
    """Tickets whose text contains every term, best first, with the matched snippet."""
    return api_for(request).search(q, process=process, resolved=resolved, limit=limit, actor_id=user)


@router.get("/tickets/{key}/similar", response_model=None, tags=["search"],
            summary="Resolved tickets like this one", responses={200: {"model": list[SearchHit]}, **_errors(404)})
def similar_tickets(request: Request, key: str, user: str = Depends(current_user),
                    limit: int = Query(5, ge=1, le=100)) -> list[dict[str, Any]]:
    """Resolved tickets most like KEY, with their solutions, as `itsm similar`."""
    return api_for(request).similar(key, limit=limit, actor_id=user)


@router.get("/tickets/{key}/status", response_model=None, tags=["tickets"],
            summary="The end user's view", responses={200: {"model": dict[str, Any]}, **_errors(404)})
def ticket_status(request: Request, key: str, user: str = Depends(current_user),
                  token: str = Query(max_length=200,
                                     description="The ticket's status token.")) -> dict[str, Any]:
    """State in plain words, priority, group, SLA due date and public updates, as `itsm status`."""
    return api_for(request).status(key, token)


@router.get("/major/board", response_model=None, tags=["major incidents"],
            summary="Open major incidents", responses={200: {"model": list[dict[str, Any]]}, **_errors()})
def major_board(request: Request, user: str = Depends(current_user)) -> list[dict[str, Any]]:
    """Every open major incident with its manager, lead, age, SLA and linked incidents, as `itsm major board`."""
    return api_for(request).major_board()


@router.get("/reports/{name}", response_model=None, tags=["reports"], summary="Render a KPI report",
            responses={200: {"model": ReportOut}, **_errors(404)})
def render_report(request: Request, name: str, user: str = Depends(current_user),
                  start: str | None = Query(None, alias="from", max_length=64,
                                            description="Start of the period (default: the last complete one)."),
                  end: str | None = Query(None, alias="to", max_length=64, description="End (exclusive)."),
                  format: Literal["md", "html", "csv", "json"] = Query("md"),
                  current: bool = Query(False, description="The period now falls in.")) -> dict[str, Any]:
    """reports/NAME.yaml over the period, rendered, as `itsm report NAME`."""
    text = api_for(request).report(name, start, end, format, current)
    return {"report": name, "format": format, "text": text}


@router.get("/labels", response_model=None, tags=["definitions"],
            summary="The labels of the definitions", responses={200: {"model": dict[str, Any]}, **_errors()})
def definition_labels(request: Request, user: str = Depends(current_user)) -> dict[str, Any]:
    """Every process's title, states, actions, roles, SLA clocks, timers and criteria,
    its fields' types, and the values of the code tables of fields, by their labels in English and
    Chinese (``version``: the definitions' hash): what `itsm --lang zh` shows in
    remote mode, where the definitions are the server's."""
    return server_api(request).labels()
