"""How a message leaves: Airflow notifiers, one per channel.

E-mail goes through the SMTP provider's `SmtpNotifier` (connection of the `email` channel, default
`cdw_smtp`), a webhook through `WebhookNotifier`, a small `BaseNotifier` that POSTs the message as JSON
to an http connection. Both are called with every field given, so nothing in a message is rendered
as a Jinja template (a rejection message with braces stays text).
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseNotifier

if TYPE_CHECKING:
    from community_dw.notifications.messages import Message
    from community_dw.notifications.recipients import Recipients


class WebhookNotifier(BaseNotifier):
    """POST a JSON payload to an Airflow http connection (its host, port and schema) at `endpoint`."""

    template_fields = ()

    def __init__(
        self, *, http_conn_id: str, payload: dict[str, Any], endpoint: str = "/", timeout: float = 10
    ):
        super().__init__()
        self.http_conn_id = http_conn_id
        self.payload = payload
        self.endpoint = endpoint
        self.timeout = timeout

    def notify(self, context) -> None:
        from airflow.providers.http.hooks.http import HttpHook

        HttpHook(method="POST", http_conn_id=self.http_conn_id).run(
            endpoint=self.endpoint,
            json=self.payload,
            headers={"X-CDW-Digest": self.payload["digest"]},
            extra_options={"timeout": self.timeout, "check_response": True},
        )


def send(message: Message, recipients: Recipients) -> None:
    """Hand the message to its channel's notifier; raises if the server refuses it."""
    channel = recipients.channel(message.recipient.channel)
    if message.recipient.channel == "email":
        from airflow.providers.smtp.notifications.smtp import SmtpNotifier

        SmtpNotifier(
            to=message.recipient.address,
            from_email=channel.get("from", "community-dw@localhost"),
            subject=message.subject,
            html_content=f"<pre>{html.escape(message.text)}</pre>",
            smtp_conn_id=channel.get("conn_id", "cdw_smtp"),
            custom_headers={"X-CDW-Digest": message.digest},
        ).notify({})
    else:
        WebhookNotifier(
            http_conn_id=message.recipient.address,
            payload=message.payload(),
            endpoint=channel.get("endpoint", "/"),
        ).notify({})
