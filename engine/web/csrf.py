"""CSRF protection of the portal's forms: the signed double-submit pattern.

A page with a form sets a random nonce in an HttpOnly, SameSite=Lax cookie and
puts HMAC-SHA256(secret key, nonce) in a hidden field.  A POST is accepted only
when the field matches the cookie's nonce: another site can make a browser send
the cookie, but can neither read it nor compute its signature.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

COOKIE = "itsm_csrf"
FIELD = "csrf_token"
_NONCE = re.compile(r"[A-Za-z0-9_-]{32}")


def new_nonce() -> str:
    return secrets.token_urlsafe(24)  # 32 characters


def usable_nonce(value: str | None) -> str | None:
    return value if value and _NONCE.fullmatch(value) else None


def sign(secret: str, nonce: str) -> str:
    digest = hmac.new(secret.encode(), f"itsm-csrf:{nonce}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def valid(secret: str, cookie: str | None, token: str | None) -> bool:
    nonce = usable_nonce(cookie)
    if nonce is None or not token:
        return False
    # bytes: compare_digest refuses a str with non-ASCII characters (a TypeError,
    # which would answer a stranger's form with a 500 instead of its 403)
    return hmac.compare_digest(sign(secret, nonce).encode(), token.encode("utf-8", "surrogatepass"))


def session_id(secret: str, nonce: str) -> str:
    """The portal session's id for self-help counting: an HMAC of the nonce (the
    nonce itself, half of the CSRF check, is never stored)."""
    return hmac.new(secret.encode(), f"itsm-self-help:{nonce}".encode(), hashlib.sha256).hexdigest()
