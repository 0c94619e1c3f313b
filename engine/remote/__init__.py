"""Remote mode: the CLI's agent commands against a desk server (``itsm serve``)
through its JSON API, with a personal token, instead of opening the database.

- ``client``: :class:`RemoteApi`, the facade's methods the agent commands call
  (new, do, comment, link, show, history, actions, list, search, similar,
  status, major board, report), each one HTTP request; the server's JSON
  errors become the CLI's exit codes.
- ``http``: one HTTP/1.1 request over a socket (timeouts, bounded answers;
  urllib.request where a proxy is configured), lighter to import than urllib.
- ``tokens``: the personal tokens of ``itsm login``, one per server, in the
  user's config folder (``$XDG_CONFIG_HOME/itsm/hosts.json``, mode 0600).
- ``labels``: the server's definitions as far as their labels go
  (``GET /api/v1/labels``), asked once by a command in another language.

This path imports only the standard library and the ground: no SQLAlchemy,
Jinja or FastAPI, nor (at run time) typing or pathlib; with the console
script's fast path (entry.py), which skips click, a remote ``itsm do`` takes
little more than Python's start-up and the server's answer.

May import: ground.
"""
