"""A stand-in for Chromium's push vendor registration (GCM/FCM check-in and registration), offline.

Chromium's ``PushManager.subscribe`` goes to Google's servers twice before it
resolves: a device *check-in* (protobuf ``AndroidCheckinResponse``) and a
*registration* (a form POST answered ``token=…``).  Offline it waits forever.
Chromium reads both addresses from its own command-line switches
(``--gcm-checkin-url``, ``--gcm-registration-url``, ``--gcm-mcs-endpoint``;
google_apis/gcm/engine/gservices_switches.cc), so a real, unmodified
Chromium can be pointed at this server: the browser then makes its real
subscription (its own P-256 key pair and auth secret, the endpoint it builds
from the token) and the page's code runs exactly as on a phone.

What is *not* real: this server hands out a made-up device id and token, and
the endpoint Chromium builds (``https://fcm.googleapis.com/…/<token>``) leads
nowhere from here, so nothing pushed to it reaches the browser.
"""
from __future__ import annotations

import secrets
import struct
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from support.reminder_sinks import free_port


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def checkin_response(android_id: int, security_token: int) -> bytes:
    """``AndroidCheckinResponse`` (google_apis/gcm/protocol/checkin.proto), hand-encoded:
    stats_ok = 1 (bool), time_msec = 3 (int64), android_id = 7 (fixed64), security_token = 8 (fixed64)."""
    import time

    return (b"\x08\x01" + b"\x18" + _varint(int(time.time() * 1000))
            + b"\x39" + struct.pack("<Q", android_id) + b"\x41" + struct.pack("<Q", security_token))


@dataclass
class FakeGcm:
    port: int = field(default_factory=free_port)
    checkins: int = 0
    registrations: list[dict[str, list[str]]] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)

    @property
    def switches(self) -> list[str]:
        base = f"http://127.0.0.1:{self.port}"
        return [f"--gcm-checkin-url={base}/checkin", f"--gcm-registration-url={base}/c2dm/register3",
                # No MCS here (it only carries messages down to the browser): a closed port fails fast.
                f"--gcm-mcs-endpoint=https://127.0.0.1:{free_port()}"]

    def __enter__(self) -> FakeGcm:
        gcm = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path.startswith("/checkin"):
                    gcm.checkins += 1
                    answer, kind = checkin_response(secrets.randbits(63) | 1, secrets.randbits(63) | 1), \
                        "application/x-protobuf"
                else:
                    gcm.registrations.append(parse_qs(body.decode("ascii", "replace")))
                    token = secrets.token_urlsafe(24)
                    gcm.tokens.append(token)
                    answer, kind = f"token={token}".encode(), "text/plain"
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
