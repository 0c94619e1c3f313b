"""Deployment settings: options, ITSM_* environment variables, itsm.toml.

Process design lives in YAML; where the database is, who is acting and how
mail is sent do not.  Environment variables win over itsm.toml.  Secrets
(passwords, webhook keys) are never printed: ``describe()`` masks them.
"""

from __future__ import annotations

import math
import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from engine.errors import UsageError
from engine.i18n import N_


@dataclass(frozen=True)
class SmtpSettings:
    host: str | None = None
    port: int = 25
    tls: str = "none"  # none | starttls | ssl
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    sender: str = "itsm@localhost"
    timeout: float = 10.0


@dataclass(frozen=True)
class WebhookSettings:
    url: str | None = None
    secret: str | None = field(default=None, repr=False)
    timeout: float = 10.0


@dataclass(frozen=True)
class ImapSettings:
    """One IMAP account ``itsm mail poll`` fetches from, for a mailbox of codes/mailboxes.yaml."""

    mailbox: str  # the mailbox id
    host: str
    port: int = 993
    tls: str = "ssl"  # ssl | starttls | none (loopback only)
    username: str = ""
    password: str = field(default="", repr=False)
    folder: str = "INBOX"
    done_folder: str | None = None  # where handled mail is moved; unset: flagged \\Seen
    verify: bool = True  # check the server's certificate
    ca_file: str | None = None  # the CA that signed it, else the system's


@dataclass(frozen=True)
class MailSettings:
    """Mail intake and attachments ([mail] in itsm.toml; docs/operations.md#mail)."""

    max_message_bytes: int = 25 * 1024 * 1024  # a larger mail is recorded, not read
    sender_limit: int = 30  # mails one sender may open or reply with per hour
    attachment_max_bytes: int = 10 * 1024 * 1024  # one file
    ticket_attachments_max_bytes: int = 50 * 1024 * 1024  # all files of one ticket
    attachment_dir: str | None = None  # unset: attachments are stored in the database
    imap: tuple[ImapSettings, ...] = ()


@dataclass(frozen=True)
class AuditSettings:
    """The journal's keys and checkpoints (docs/operations.md#auditing-the-journal).
    Paths only: the secrets live in files (or ITSM_AUDIT_KEY), never in itsm.toml."""

    hmac_key: str | None = field(default=None, repr=False)  # ITSM_AUDIT_KEY
    key_file: str | None = None  # ITSM_AUDIT_KEY_FILE; default: audit.key in the state folder
    signing_key: str | None = None  # Ed25519 private key (PEM), on the checkpointing host only
    public_key: str | None = None  # its public key (PEM), for verify
    witness: str | None = None  # the append-only file checkpoints are written to
    checkpoint_every: str | None = None  # how often itsm tick signs a checkpoint ("off": never);
    # unset: every hour where a signing key is configured, never elsewhere
    recipients: tuple[str, ...] = ()  # e-mail addresses (or "webhook") sent each checkpoint


@dataclass(frozen=True)
class SecuritySettings:
    """Logins and abuse limits (``[security]`` of itsm.toml, ITSM_* variables win;
    docs/security.md).  Every limit is a count per window; 0 turns it off."""

    token_days: int = 30  # ITSM_TOKEN_DAYS: a login's personal token lives this long (0: until revoked)
    login_attempts: int = 5  # ITSM_LOGIN_ATTEMPTS: failed logins per user and per client per 15 minutes
    portal_per_minute: int = 10  # ITSM_PORTAL_PER_MINUTE: portal submissions and status look-ups per client
    portal_per_email_hour: int = 10  # ITSM_PORTAL_PER_EMAIL: portal submissions per e-mail address per hour
    acks_per_hour: int = 5  # ITSM_ACKS_PER_HOUR: acknowledgements to one address per hour
    api_per_minute: int = 600  # ITSM_API_PER_MINUTE: JSON API requests per key


SECURITY_VARIABLES = {"token_days": "ITSM_TOKEN_DAYS", "login_attempts": "ITSM_LOGIN_ATTEMPTS",
                      "portal_per_minute": "ITSM_PORTAL_PER_MINUTE",
                      "portal_per_email_hour": "ITSM_PORTAL_PER_EMAIL",
                      "acks_per_hour": "ITSM_ACKS_PER_HOUR", "api_per_minute": "ITSM_API_PER_MINUTE"}


def _number(convert: type, key: str, variable: str | None, section: dict[str, Any], default: float) -> Any:
    """A number of the settings: the environment ``variable``, else ``key``'s last part in
    ``section``, else ``default``; a usage error naming both when it is not one."""
    raw = (os.environ.get(variable) if variable else None) or section.get(key.rpartition(".")[2])
    if raw is None or raw == "":
        raw = default
    try:
        return convert(raw)
    except (TypeError, ValueError):
        named = f"{key} ({variable})" if variable else key
        if convert is int:
            raise UsageError(N_("settings: {name} must be a whole number, not {raw!r}"),
                             values={"name": named, "raw": raw}) from None
        raise UsageError(N_("settings: {name} must be a number, not {raw!r}"),
                         values={"name": named, "raw": raw}) from None


def _security(section: dict[str, Any]) -> SecuritySettings:
    values: dict[str, int] = {}
    for name, variable in SECURITY_VARIABLES.items():
        raw = os.environ.get(variable) or section.get(name)
        if raw is None or raw == "":
            continue
        try:
            value = int(raw)
        except (TypeError, ValueError):
            value = -1
        if not 0 <= value <= 10**7:
            raise UsageError(N_("settings: security.{name} ({variable}) must be a whole number from 0 to "
                                "10000000, not {raw!r}"),
                             values={"name": name, "variable": variable, "raw": raw})
        values[name] = value
    return SecuritySettings(**values)


@dataclass(frozen=True)
class Settings:
    database_url: str | None = None
    url: str | None = None  # a desk server (itsm serve): the CLI's agent commands go there
    user: str | None = None
    timezone: str | None = None  # how times are shown (IANA name)
    portal_url: str | None = None  # base of status links in messages
    smtp: SmtpSettings = SmtpSettings()
    webhook: WebhookSettings = WebhookSettings()
    max_attempts: int = 6
    backoff_seconds: float = 60.0
    secret_key: str | None = field(default=None, repr=False)  # derives status tokens
    audit: AuditSettings = AuditSettings()
    security: SecuritySettings = SecuritySettings()
    mail: MailSettings = MailSettings()
    raw: dict[str, Any] | None = None

    @classmethod
    def load(cls, home: Path) -> "Settings":
        named = os.environ.get("ITSM_CONFIG")
        path = Path(named or home / "itsm.toml")
        if named and not path.is_file():  # named on purpose: silently running without it would mislead
            raise UsageError(N_("ITSM_CONFIG: {path} is not a file (unset ITSM_CONFIG to use the process "
                                "repository's itsm.toml)"), values={"path": path})
        data: dict[str, Any] = {}
        if path.is_file():
            try:
                data = tomllib.loads(path.read_text(encoding="utf-8"))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise UsageError(N_("{path}: not valid TOML: {exc}"),
                                 values={"path": path, "exc": exc}) from None
        env = os.environ.get

        def section(name: str) -> dict[str, Any]:
            value = data.get(name, {})
            return value if isinstance(value, dict) else {}

        db, notify, smtp, hook = section("database"), section("notify"), section("smtp"), section("webhook")
        audit = section("audit")
        recipients = env("ITSM_AUDIT_RECIPIENTS")
        audit_settings = AuditSettings(
            hmac_key=env("ITSM_AUDIT_KEY") or None,
            key_file=_path_setting("ITSM_AUDIT_KEY_FILE", audit.get("key_file"), path.parent),
            signing_key=_path_setting("ITSM_AUDIT_SIGNING_KEY", audit.get("signing_key"), path.parent),
            public_key=_path_setting("ITSM_AUDIT_PUBLIC_KEY", audit.get("public_key"), path.parent),
            witness=_path_setting("ITSM_AUDIT_WITNESS", audit.get("witness"), path.parent),
            checkpoint_every=env("ITSM_AUDIT_CHECKPOINT_EVERY") or audit.get("checkpoint_every"),
            recipients=tuple(r.strip() for r in (recipients.split(",") if recipients
                                                 else audit.get("recipients") or []) if r.strip()))
        smtp_settings = SmtpSettings(
            host=env("ITSM_SMTP_HOST") or smtp.get("host"),
            port=_number(int, "smtp.port", "ITSM_SMTP_PORT", smtp, 25),
            tls=str(env("ITSM_SMTP_TLS") or smtp.get("tls") or "none").lower(),
            username=env("ITSM_SMTP_USERNAME") or smtp.get("username"),
            password=env("ITSM_SMTP_PASSWORD") or smtp.get("password"),
            sender=env("ITSM_SMTP_FROM") or smtp.get("from") or "itsm@localhost",
            timeout=_number(float, "smtp.timeout", None, smtp, 10))
        webhook = WebhookSettings(url=env("ITSM_WEBHOOK_URL") or hook.get("url"),
                                  secret=env("ITSM_WEBHOOK_SECRET") or hook.get("secret"),
                                  timeout=_number(float, "webhook.timeout", None, hook, 10))
        max_attempts = _number(int, "notify.max_attempts", "ITSM_NOTIFY_MAX_ATTEMPTS", notify, 6)
        backoff = _number(float, "notify.backoff_seconds", "ITSM_NOTIFY_BACKOFF", notify, 60)
        if max_attempts < 1 or not (math.isfinite(backoff) and backoff >= 0):  # retries are bounded
            raise UsageError(N_("settings: notify.max_attempts (ITSM_NOTIFY_MAX_ATTEMPTS) must be 1 or more, "
                                "notify.backoff_seconds (ITSM_NOTIFY_BACKOFF) a number of seconds, 0 or more"))
        mail_settings = _mail(section("mail"), path.parent)
        if smtp_settings.tls not in ("none", "starttls", "ssl"):
            raise UsageError(N_("smtp.tls must be none, starttls or ssl, not {tls!r}"),
                             values={"tls": smtp_settings.tls})
        url = data.get("url")
        return cls(database_url=db.get("url"), url=str(url) if url else None, user=data.get("user"),
                   timezone=env("ITSM_TZ") or data.get("timezone"),
                   portal_url=env("ITSM_PORTAL_URL") or notify.get("portal_url"),
                   smtp=smtp_settings, webhook=webhook, max_attempts=max_attempts,
                   backoff_seconds=backoff,
                   secret_key=env("ITSM_SECRET_KEY") or section("security").get("secret_key"),
                   audit=audit_settings, security=_security(section("security")), mail=mail_settings,
                   raw=data)

    def with_(self, **changes: Any) -> "Settings":
        return replace(self, **changes)


def _mail(mail: dict[str, Any], base: Path) -> MailSettings:
    env = os.environ.get
    accounts = []
    imap = mail.get("imap") if isinstance(mail.get("imap"), dict) else {}
    if env("ITSM_IMAP_HOST"):  # one account from the environment
        imap = dict(imap, **{env("ITSM_IMAP_MAILBOX") or "servicedesk": {
            "host": env("ITSM_IMAP_HOST"), "port": env("ITSM_IMAP_PORT"), "tls": env("ITSM_IMAP_TLS"),
            "username": env("ITSM_IMAP_USERNAME"), "password": env("ITSM_IMAP_PASSWORD"),
            "folder": env("ITSM_IMAP_FOLDER"), "done_folder": env("ITSM_IMAP_DONE_FOLDER"),
            "verify": env("ITSM_IMAP_VERIFY"), "ca_file": env("ITSM_IMAP_CA_FILE")}})
    try:
        for box, acc in imap.items():
            if not isinstance(acc, dict) or not acc.get("host"):
                raise UsageError(N_("settings: mail.imap.{box} needs a host"), values={"box": box})
            tls = str(acc.get("tls") or "ssl").lower()
            if tls not in ("ssl", "starttls", "none"):
                raise UsageError(N_("settings: mail.imap.{box}.tls must be ssl, starttls or none, not {tls!r}"),
                                 values={"box": box, "tls": tls})
            accounts.append(ImapSettings(
                mailbox=str(box), host=str(acc["host"]), port=int(acc.get("port") or (993 if tls == "ssl" else 143)),
                tls=tls, username=str(acc.get("username") or ""), password=str(acc.get("password") or ""),
                folder=str(acc.get("folder") or "INBOX"), done_folder=acc.get("done_folder") or None,
                verify=str(acc.get("verify") if acc.get("verify") is not None else True).lower()
                not in ("false", "0", "no"),
                ca_file=_path(acc["ca_file"], base) if acc.get("ca_file") else None))
        sizes = {k: int(env("ITSM_MAIL_" + k.upper()) or mail.get(k) or getattr(MailSettings, k))
                 for k in ("max_message_bytes", "sender_limit", "attachment_max_bytes",
                           "ticket_attachments_max_bytes")}
    except ValueError as exc:
        raise UsageError(N_("settings: mail: {exc}"), values={"exc": exc}) from None
    if any(v < 1 for v in sizes.values()):
        raise UsageError(N_("settings: mail limits must be 1 or more"))
    return MailSettings(**sizes, imap=tuple(accounts),
                        attachment_dir=_path_setting("ITSM_ATTACHMENT_DIR", mail.get("attachment_dir"), base))


def _path(value: Any, base: Path) -> str | None:
    """A path setting of itsm.toml: a relative one is relative to its folder."""
    if not value:
        return None
    p = Path(os.path.expanduser(str(value)))
    return str(p if p.is_absolute() else base / p)


def _path_setting(variable: str, value: Any, base: Path) -> str | None:
    """A path from the environment variable (relative to the current folder, as a
    shell user means it), else from itsm.toml (relative to its folder)."""
    given = os.environ.get(variable)
    if given:
        return str(Path(os.path.expanduser(given)).absolute())
    return _path(value, base)


def state_dir(home: Path, writable_home: bool) -> Path:
    """The deployment's state folder: ``.itsm/`` of a writable process repository,
    else the user data folder (the default SQLite database and audit key live here)."""
    if writable_home:
        return home / ".itsm"
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "itsm"


SECRET_FIELDS = ("password", "secret", "secret_key", "hmac_key")


def describe(obj: Any) -> dict[str, Any]:
    """Settings as a dict for display, with secrets masked."""
    out: dict[str, Any] = {}
    for f in fields(obj):
        value = getattr(obj, f.name)
        if f.name == "raw":
            continue
        if hasattr(value, "__dataclass_fields__"):
            out[f.name] = describe(value)
        elif f.name in SECRET_FIELDS:
            out[f.name] = "***" if value else None
        else:
            out[f.name] = value
    return out
