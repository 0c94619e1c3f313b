"""The desk: the commands of a service desk over one open deployment.

context (:class:`engine.desk.context.Desk`: definitions, settings, store, clock,
acting person, views) is made by the facade and passed to every module here as
its first argument.  tickets (new, do, comment, show, history, actions,
list), links (typed links: link, unlink, guards over links, cascades), workflow (perform: the one path of every action), writes (intake, the
outcome of an action, journal events, due work), clockstate (the state of a
ticket's SLA clocks and timers kept on its row), ticking (``itsm tick``),
notifying (queued messages, status tokens), views (how tickets are shown),
people, major (major-incident criteria, cascade, board), search, portal (the end
user's side), forms (the agent console's action forms and priority preview), apikeys, permissions (codes/permissions.yaml: admin, impersonate,
read, write, alerts, internal notes), passwords (logins: the only importer of
argon2), migrate, operations (outbox, due reports, schema); the
journal's audit: audit (``itsm audit verify``), replay (every column from the
journal), desklog, sealing (the desk-wide log, rekey), checkpoints, signing
(Ed25519: the only importer of cryptography), export (offline verification, keygen).

May import: ground, definitions, clock, runtime, lint, store, notify, mail, reports.
"""
