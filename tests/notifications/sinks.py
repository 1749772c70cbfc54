"""Provider stand-ins that record what they receive, on free loopback ports, in threads of the
test process (a worker subprocess reaches them over TCP like a real provider):
an SMTP server (aiosmtpd) and a Twilio-compatible HTTP SMS API that can answer errors."""

import email
import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from aiosmtpd.controller import Controller

from notifications.transports.email import KEY_HEADER
from tests.realservices import free_port


@dataclass
class Received:
    key: str
    to: str
    body: str
    at: float
    subject: str = ""
    html: bool = False


@dataclass
class SmtpSink:
    messages: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0
    controller: Controller | None = None

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd handler hook
        message = email.message_from_bytes(envelope.content)
        text = ""
        has_html = False
        for part in message.walk():
            if part.get_content_type() == "text/plain":
                text = part.get_payload(decode=True).decode()
            elif part.get_content_type() == "text/html":
                has_html = True
        with self.lock:
            self.messages.append(
                Received(
                    key=message[KEY_HEADER] or "",
                    to=",".join(envelope.rcpt_tos),
                    body=text,
                    at=time.monotonic(),
                    subject=str(message["Subject"]),
                    html=has_html,
                )
            )
        return "250 OK"

    def start(self) -> "SmtpSink":
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()

    def received_keys(self) -> list[str]:
        with self.lock:
            return [m.key for m in self.messages]

    def clear(self) -> None:
        with self.lock:
            self.messages.clear()


class SmsSink:
    """POST /2010-04-01/Accounts/<sid>/Messages.json. `fail_first` answers 500 to the first N
    attempts of each message (by Idempotency-Key); `always_fail` to all of them."""

    def __init__(self) -> None:
        self.accepted: list[Received] = []
        self.attempts: dict[str, list[float]] = {}
        self.fail_first = 0
        self.always_fail = False
        # Answer every request with this status instead (e.g. 400 for a refused number).
        self.answer_status: int | None = None
        self.lock = threading.Lock()
        self.port = 0
        self.server: ThreadingHTTPServer | None = None

    def start(self) -> "SmsSink":
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                key = self.headers.get("Idempotency-Key", "")
                with sink.lock:
                    tries = sink.attempts.setdefault(key, [])
                    tries.append(time.monotonic())
                    fail = sink.always_fail or len(tries) <= sink.fail_first
                    if not fail and sink.answer_status is None:
                        sink.accepted.append(
                            Received(
                                key=key,
                                to=form.get("To", ""),
                                body=form.get("Body", ""),
                                at=time.monotonic(),
                            )
                        )
                if sink.answer_status is not None:
                    self._answer(sink.answer_status, {"code": 21211, "message": "Invalid 'To'"})
                elif fail:
                    self._answer(500, {"code": 20500, "message": "Internal Server Error"})
                else:
                    self._answer(201, {"sid": f"SM{uuid.uuid4().hex}", "status": "queued"})

            def _answer(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def received_keys(self) -> list[str]:
        with self.lock:
            return [m.key for m in self.accepted]

    def reset(self, *, fail_first: int = 0, always_fail: bool = False) -> None:
        with self.lock:
            self.accepted.clear()
            self.attempts.clear()
            self.fail_first = fail_first
            self.always_fail = always_fail
            self.answer_status = None
