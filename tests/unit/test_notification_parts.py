"""The notifications' pure parts: who is told (the recipients file), what a count may show, one message."""

from __future__ import annotations

import pytest

from community_dw.notifications.events import OPEN, RESOLVED, Event, count_fact
from community_dw.notifications.messages import compose
from community_dw.notifications.outbox import dedup_key
from community_dw.notifications.recipients import (
    DEFAULT_FILE,
    Contact,
    RecipientsError,
    load_recipients,
)

FILE = """
communities:
  default: {duty: [{email: district@x.example}], appeals: [{email: appeals@x.example}]}
  "330106001": {duty: [{webhook: street_hook}]}
  "330106001002": {duty: [{email: c2@x.example}]}
sources:
  default: {data_owner: [{email: eng@x.example}]}
  telecom_stays: {data_owner: [{email: carrier@x.example}]}
"""


def test_the_most_specific_entry_naming_the_role_wins(tmp_path):
    path = tmp_path / "r.yml"
    path.write_text(FILE, encoding="utf-8")
    recipients = load_recipients(path)
    assert recipients.for_community("330106001002", "duty") == (Contact("email", "c2@x.example"),)
    assert recipients.for_community("330106001003", "duty") == (Contact("webhook", "street_hook"),)
    assert recipients.for_community("330106002001", "duty") == (Contact("email", "district@x.example"),)
    # the community's entry has no appeals contact: its street has none either, so the default
    assert recipients.for_community("330106001002", "appeals") == (Contact("email", "appeals@x.example"),)
    assert recipients.for_source("telecom_stays") == (Contact("email", "carrier@x.example"),)
    assert recipients.for_source("appeals") == (Contact("email", "eng@x.example"),)


@pytest.mark.parametrize(
    "bad",
    [
        "communities: {default: {duty: [{fax: '123'}]}}",
        "communities: {default: {mayor: [{email: a@b.example}]}}",
        "sources: {default: {data_owner: {email: a@b.example}}}",
    ],
)
def test_a_malformed_recipients_file_is_refused(tmp_path, bad):
    path = tmp_path / "r.yml"
    path.write_text(bad, encoding="utf-8")
    with pytest.raises(RecipientsError):
        load_recipients(path)


def test_the_repository_declares_a_default_for_every_role():
    recipients = load_recipients(DEFAULT_FILE)
    for role in ("duty", "appeals"):
        assert recipients.for_community("999999999999", role)
    assert recipients.for_source("a_source_added_tomorrow")


def test_a_count_under_k_is_never_shown():
    assert count_fact(19, 20) == "fewer than 20"
    assert count_fact(0, 20) == "fewer than 20"
    assert count_fact(20, 20) == 20
    assert count_fact(None, 20) == "withheld"


def _event(state: str, key: str = "g|visitor|2026-11-25T19") -> Event:
    return Event(
        "crowd_alert", key, state, "community:330106001001", "duty", f"crowd {state}", {"level": 101}
    )


def test_one_message_groups_a_recipients_events_with_a_digest_of_its_content():
    contact = Contact("email", "duty@x.example")
    message = compose(contact, [_event(RESOLVED), _event(OPEN), _event(OPEN, "h|all|2026-11-25T19")])
    assert message.subject == "[community-dw] 2 crowd alerts, 1 resolved"
    assert [e.state for e in message.events] == [OPEN, RESOLVED, OPEN]  # by key, open before resolved
    assert message.digest in message.text
    again = compose(contact, [_event(OPEN, "h|all|2026-11-25T19"), _event(OPEN), _event(RESOLVED)])
    assert again.digest == message.digest
    assert compose(Contact("email", "other@x.example"), [_event(OPEN)]).digest != message.digest


def test_the_dedup_key_separates_state_and_recipient():
    a, b = Contact("email", "a@x.example"), Contact("webhook", "a@x.example")
    keys = {dedup_key(_event(s), c) for s in (OPEN, RESOLVED) for c in (a, b)}
    assert len(keys) == 4
