"""The self-service portal, the agent console and the JSON API (only imported by ``itsm serve``).

The application (app) is made over an opened facade (engine.api.Api), which it
receives; pages (the portal), console (the agent console, /desk), api_v1 (the JSON API), requests (language and
path of a request), errors (HTTP statuses of the CLI's exit codes), middleware,
config, server (uvicorn).

May import: ground, store.
"""
