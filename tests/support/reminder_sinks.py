"""Local stand-ins for what reminders reach: an SMTP server (aiosmtpd) and a push service.

``SmtpSink`` is aiosmtpd's real SMTP server on a free local port; it keeps every
message it receives.  ``PushService`` is a small HTTP server that answers like a
browser vendor's push service (RFC 8030: 201 Created for a POST to a
subscription's endpoint) and keeps each request's headers and encrypted body.
``Browser`` is the browser's side of a subscription: a P-256 key pair and an
auth secret made here, so a test can decrypt what was pushed (RFC 8291, with
http-ece) exactly as the browser would.
"""
from __future__ import annotations

import base64
import os
import socket
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
from aiosmtpd.controller import Controller
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class _Keep:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        message = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        with self.sink.lock:
            self.sink.messages.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


class SmtpSink:
    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[tuple[list[str], EmailMessage]] = []
        self.lock = threading.Lock()
        self.controller = Controller(_Keep(self), hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SmtpSink:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for rcpts, m in self.messages if address in rcpts]


@dataclass
class Pushed:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class PushService:
    """Answers 201 to a POST on /push/<id>; 410 Gone for ids in ``gone``."""

    port: int = field(default_factory=free_port)
    received: list[Pushed] = field(default_factory=list)
    gone: set[str] = field(default_factory=set)

    def __enter__(self) -> PushService:
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                service.received.append(Pushed(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                status = 410 if self.path.rsplit("/", 1)[-1] in service.gone else 201
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def endpoint(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/push/{name}"

    def to(self, name: str) -> list[Pushed]:
        return [p for p in self.received if p.path == f"/push/{name}"]


@dataclass
class Browser:
    """The browser side of one push subscription: its own key pair and auth secret (RFC 8291)."""

    endpoint: str
    private_key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    auth_secret: bytes = field(default_factory=lambda: os.urandom(16))

    def subscription(self) -> dict:
        public = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        return {"endpoint": self.endpoint, "expirationTime": None,
                "keys": {"p256dh": b64url(public), "auth": b64url(self.auth_secret)}}

    def decrypt(self, pushed: Pushed) -> bytes:
        assert pushed.headers.get("content-encoding") == "aes128gcm"
        return http_ece.decrypt(pushed.body, private_key=self.private_key, auth_secret=self.auth_secret,
                                version="aes128gcm")
