"""The channels a reminder goes through: web push (VAPID), e-mail (SMTP), SMS (a driver).

Each channel is a small driver with ``send(...)`` that raises :class:`NotDelivered`
when the message did not leave; the caller records the outcome on the claim.
SMS drivers are chosen by ``EPRO_SMS_DRIVER``: ``log`` (the default: the text goes
to the log, nothing leaves the server) or ``http`` (a JSON POST to an SMS
provider's HTTP API; settings in the README).
"""
from __future__ import annotations

import base64
import json
import logging
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, make_msgid, parseaddr
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from epro.services.reminders.messages import Message

if TYPE_CHECKING:  # the crypto and HTTP libraries load when a reminder goes, not in every web worker
    from py_vapid import Vapid

log = logging.getLogger("epro.reminders")
VAPID_FILE = "vapid_private_key"


class NotDelivered(Exception):
    """The message did not leave through this channel; ``gone`` says the address no longer exists."""

    def __init__(self, reason: str, gone: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.gone = gone


# --- VAPID -----------------------------------------------------------------------------------

def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def new_vapid_private_key() -> str:
    """A new P-256 key pair's private key, as the base64url of its 32 raw bytes (EPRO_VAPID_PRIVATE_KEY)."""
    from py_vapid import Vapid

    vapid = Vapid()
    vapid.generate_keys()
    number = vapid.private_key.private_numbers().private_value
    return b64url(number.to_bytes(32, "big"))


def ensure_vapid_key(instance_path: str) -> Path:
    """Create the instance folder's VAPID private key once (`epro demo`); return its path."""
    path = Path(instance_path) / VAPID_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(new_vapid_private_key())
        path.chmod(0o600)
    return path


def vapid_from(config: dict[str, Any], instance_path: str) -> Vapid | None:
    """The configured key (EPRO_VAPID_PRIVATE_KEY: base64url raw or DER, or PEM), else the instance
    folder's; None when there is none (web push is then off)."""
    text = config.get("VAPID_PRIVATE_KEY")
    if not text:
        path = Path(instance_path) / VAPID_FILE
        text = path.read_text().strip() if path.exists() else None
    if not text:
        return None
    text = str(text).strip()
    from py_vapid import Vapid

    if text.startswith("-----BEGIN"):
        return Vapid.from_pem(text.encode())
    return Vapid.from_string(text)


def public_key(vapid: Vapid) -> str:
    """The application server key the browser subscribes with: the uncompressed point, base64url."""
    from cryptography.hazmat.primitives import serialization

    raw = vapid.public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return b64url(raw)


# --- the drivers -----------------------------------------------------------------------------

@dataclass(frozen=True)
class PushTarget:
    endpoint: str
    p256dh: str
    auth: str


def push_payload(message: Message) -> str:
    """What the service worker's push handler reads (templates/sw.js): words and a link, nothing clinical."""
    return json.dumps({"title": message.title, "body": message.body, "url": message.link,
                       "lang": message.lang, "tag": "epro-reminder"}, ensure_ascii=False)


class Push:
    """Web Push (RFC 8030) with VAPID (RFC 8292), the payload encrypted with aes128gcm (RFC 8291)."""

    def __init__(self, vapid: Vapid, subject: str, ttl: int = 24 * 3600, timeout: float = 10) -> None:
        self.vapid, self.subject, self.ttl, self.timeout = vapid, subject, ttl, timeout

    def send(self, target: PushTarget, message: Message) -> None:
        from pywebpush import WebPushException, webpush

        payload = push_payload(message)
        try:
            webpush({"endpoint": target.endpoint, "keys": {"p256dh": target.p256dh, "auth": target.auth}},
                    data=payload, vapid_private_key=self.vapid, vapid_claims={"sub": self.subject},
                    ttl=self.ttl, timeout=self.timeout)
        except WebPushException as exc:
            status = exc.response.status_code if exc.response is not None else None
            raise NotDelivered(f"push {status or 'error'}", gone=status in (404, 410)) from None
        except Exception as exc:  # a bad key or subscription must not stop the other reminders
            raise NotDelivered(f"push {type(exc).__name__}") from None


def vapid_subject(config: dict[str, Any]) -> str:
    """EPRO_VAPID_SUBJECT, else an https BASE_URL, else mailto: the sender's address (RFC 8292 wants one of them)."""
    if config.get("VAPID_SUBJECT"):
        return str(config["VAPID_SUBJECT"])
    base = str(config.get("BASE_URL") or "")
    if base.startswith("https://"):
        return base
    address = parseaddr(str(config.get("MAIL_SENDER") or ""))[1]
    return "mailto:" + (address if "@" in address else "epro@localhost")


class Mail:
    """Plain-text e-mail through an SMTP server (EPRO_MAIL_SERVER, EPRO_MAIL_PORT, EPRO_MAIL_SENDER)."""

    def __init__(self, server: str, port: int, sender: str, *, starttls: bool = False,
                 username: str | None = None, password: str | None = None, timeout: float = 20) -> None:
        self.server, self.port, self.sender = server, port, sender
        self.starttls, self.username, self.password, self.timeout = starttls, username, password, timeout

    def send(self, to: str, message: Message) -> None:
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = formataddr(("", to))
        mail["Subject"] = message.title
        mail["Message-ID"] = make_msgid(domain="epro")
        mail["Content-Language"] = "zh-Hans" if message.lang == "zh" else "en"
        mail.set_content(message.text)
        try:
            with smtplib.SMTP(self.server, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.username:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(mail)
        except (smtplib.SMTPException, OSError) as exc:
            raise NotDelivered(f"mail {type(exc).__name__}") from None


#: The outcome of a channel that wrote the message to the log instead of sending it.
LOGGED = "logged"


class SmsDriver(Protocol):
    def send(self, to: str, message: Message) -> str | None: ...


class LogSms:
    """Writes the SMS to the log instead of sending it (the default, and for trying things out);
    the claim records ``logged``, not ``sent``."""

    def send(self, to: str, message: Message) -> str | None:
        log.info("sms to %s: %s", _masked(to), message.short_text)
        return LOGGED


class HttpSms:
    """An SMS provider's HTTP API: ``POST EPRO_SMS_HTTP_URL`` with JSON
    ``{"to": …, "text": …, "sender": EPRO_SMS_HTTP_SENDER}`` and, if set,
    ``Authorization: Bearer EPRO_SMS_HTTP_TOKEN``; any 2xx answer is success."""

    def __init__(self, url: str, token: str | None = None, sender: str | None = None, timeout: float = 10) -> None:
        self.url, self.token, self.sender, self.timeout = url, token, sender, timeout

    def send(self, to: str, message: Message) -> str | None:
        import requests

        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        body = {"to": to, "text": message.short_text, "sender": self.sender}
        try:
            answer = requests.post(self.url, json=body, headers=headers, timeout=self.timeout)
        except requests.RequestException as exc:
            raise NotDelivered(f"sms {type(exc).__name__}") from None
        if not 200 <= answer.status_code < 300:
            raise NotDelivered(f"sms {answer.status_code}")
        return None


def _masked(phone: str) -> str:
    return phone[:3] + "…" + phone[-2:] if len(phone) > 6 else "…"


@dataclass
class Channels:
    """The drivers configured for this run; a channel that is not configured is None."""

    push: Push | None
    mail: Mail | None
    sms: SmsDriver | None


class BadSetting(RuntimeError):
    """A reminder setting is missing or wrong (named in the message)."""


def from_config(config: dict[str, Any], instance_path: str) -> Channels:
    vapid = vapid_from(config, instance_path)
    push = Push(vapid, vapid_subject(config)) if vapid is not None else None
    server = config.get("MAIL_SERVER")
    mail = Mail(server, int(config.get("MAIL_PORT") or 25), config.get("MAIL_SENDER") or "epro <epro@localhost>",
                starttls=_flag(config.get("MAIL_STARTTLS")), username=config.get("MAIL_USERNAME"),
                password=config.get("MAIL_PASSWORD")) if server else None
    driver = (config.get("SMS_DRIVER") or "log").lower()
    sms: SmsDriver | None
    if driver == "log":
        sms = LogSms()
    elif driver == "http":
        url = config.get("SMS_HTTP_URL")
        if not url:
            raise BadSetting("EPRO_SMS_DRIVER=http needs EPRO_SMS_HTTP_URL")
        sms = HttpSms(url, config.get("SMS_HTTP_TOKEN"), config.get("SMS_HTTP_SENDER"))
    elif driver == "none":
        sms = None
    else:
        raise BadSetting(f"EPRO_SMS_DRIVER={driver}: use log, http or none")
    return Channels(push=push, mail=mail, sms=sms)


def _flag(value: object) -> bool:
    return value is True or str(value).lower() in ("1", "true", "yes", "on")
