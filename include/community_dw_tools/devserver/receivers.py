"""Local receivers for the notifications: a real SMTP server (aiosmtpd) and an HTTP webhook receiver.

    with local_receivers() as inbox:      # points cdw_smtp and every webhook connection at them
        ...run the DAGs...
        inbox.emails                      # email.message.EmailMessage, as received over SMTP
        inbox.posts                       # (path, headers, JSON body) of every webhook POST

For the demo and the tests: nothing leaves the machine. The Airflow connections are set as
AIRFLOW_CONN_* environment variables for the duration and restored afterwards.
"""

from __future__ import annotations

import json
import socket
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from community_dw.processes import environment

if TYPE_CHECKING:
    from collections.abc import Iterator


@dataclass
class Inbox:
    smtp_port: int = 0
    webhook_url: str = ""
    emails: list[EmailMessage] = field(default_factory=list)
    posts: list[tuple[str, dict[str, str], dict[str, Any]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def clear(self) -> None:
        with self.lock:
            self.emails.clear()
            self.posts.clear()

    def count(self) -> int:
        with self.lock:
            return len(self.emails) + len(self.posts)


class _SmtpHandler:
    def __init__(self, inbox: Inbox):
        self.inbox = inbox

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd's hook name
        message = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        with self.inbox.lock:
            self.inbox.emails.append(message)
        return "250 Message accepted for delivery"


def _webhook_server(inbox: Inbox) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            try:
                payload = json.loads(body)
            except ValueError:
                self.send_response(400)
                self.end_headers()
                return
            with inbox.lock:
                inbox.posts.append((self.path, dict(self.headers), payload))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args) -> None:  # quiet: the demo prints what arrived
            pass

    return ThreadingHTTPServer(("127.0.0.1", 0), Handler)


def _free_port() -> int:
    """A free localhost port (aiosmtpd's controller connects to its own port to see it is up, so 0 will not do)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def webhook_conn_ids() -> list[str]:
    """Every webhook connection the recipients file names."""
    from community_dw.notifications.recipients import load_recipients

    recipients = load_recipients()
    entries = [*recipients.communities.values(), *recipients.sources.values()]
    return sorted(
        {c.address for roles in entries for cs in roles.values() for c in cs if c.channel == "webhook"}
    )


@contextmanager
def local_receivers(smtp_conn_id: str | None = None) -> Iterator[Inbox]:
    """Start both receivers on free localhost ports and point the notification connections at them."""
    from aiosmtpd.controller import Controller

    from community_dw.notifications.recipients import load_recipients

    inbox = Inbox()
    smtp_conn_id = smtp_conn_id or load_recipients().channel("email").get("conn_id", "cdw_smtp")
    controller = Controller(_SmtpHandler(inbox), hostname="127.0.0.1", port=_free_port())
    controller.start()
    httpd = _webhook_server(inbox)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    inbox.smtp_port = controller.port
    inbox.webhook_url = f"http://127.0.0.1:{httpd.server_address[1]}"
    smtp = {
        "conn_type": "smtp",
        "host": "127.0.0.1",
        "port": inbox.smtp_port,
        "extra": {"disable_ssl": True, "disable_tls": True, "timeout": 10, "retry_limit": 0},
    }
    http = {"conn_type": "http", "host": "127.0.0.1", "port": httpd.server_address[1], "schema": "http"}
    values = {f"AIRFLOW_CONN_{smtp_conn_id.upper()}": json.dumps(smtp)}
    values |= {f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(http) for conn_id in webhook_conn_ids()}
    try:
        with environment(values):
            yield inbox
    finally:
        httpd.shutdown()
        httpd.server_close()
        controller.stop()
