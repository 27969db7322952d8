"""The digest messages and the retry decisions (pure): stable Message-IDs, no content
beyond labels, HTML escaped, French and English; bounded backoff, dead letter, bounces."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from securebox_auth.errors import ConfigurationError, MalformedInput
from securebox_server.jobs.digest import (
    Item,
    compose_mail,
    compose_sms,
    idempotency_key,
    message_id,
)
from securebox_server.jobs.retries import RetryPolicy, Status, after_failure

NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
ids = st.lists(st.text("0123456789abcdef", min_size=32, max_size=32), min_size=1, unique=True)


@given(ids, st.randoms())
def test_the_message_id_depends_on_the_set_of_rows_only(rows: list[str], rng) -> None:  # type: ignore[no-untyped-def]
    shuffled = list(rows)
    rng.shuffle(shuffled)
    assert message_id(rows, "bank.example") == message_id(shuffled, "bank.example")
    assert message_id(rows, "bank.example") != message_id([*rows, "x" * 32], "bank.example")
    assert idempotency_key(message_id(rows, "b.example")).endswith(".box@b.example")


def test_labels_are_escaped_and_languages_chosen() -> None:
    items = [Item("<script>alert(1)</script> & co", "732829320", NOW, NOW + timedelta(days=3))]
    mail = compose_mail(
        "expiry_warning",
        items,
        to="a@b.example",
        language="en",
        public_url="https://box.example/",
        message="<m@b.example>",
    )
    assert mail["Subject"] == "1 document in your Digital Box expires soon"
    assert mail["Content-Language"] == "en"
    html = mail.get_body(("html",))
    assert html is not None
    rich = html.get_content()
    assert "<script>" not in rich
    assert "&lt;script&gt;" in rich
    assert "until Dec 8, 2026" in mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    french = compose_mail(
        "new_document", items * 2, to="a@b.example", language="de", public_url="https://x/",
        message="<m@b.example>",
    )  # fmt: skip
    assert french["Subject"] == "2 nouveaux documents dans votre Digital Box"  # unknown: French
    assert compose_sms("new_document", 1, language="fr", public_url="https://x/") == (
        "1 nouveau document dans votre Digital Box: https://x/"
    )
    with pytest.raises(MalformedInput):
        compose_mail("other", items, to="a", language="fr", public_url="u", message="m")
    with pytest.raises(MalformedInput):
        compose_sms("new_document", 0, language="fr", public_url="u")


@given(
    attempts=st.integers(1, 20),
    draw=st.floats(0, 1, exclude_max=True),
    permanent=st.booleans(),
)
def test_retry_decisions(attempts: int, draw: float, permanent: bool) -> None:
    policy = RetryPolicy(attempts=8)
    status, at = after_failure(policy, attempts, permanent=permanent, now=NOW, draw=draw)
    if permanent:
        assert (status, at) == (Status.BOUNCED, NOW)
    elif attempts >= 8:
        assert (status, at) == (Status.DEAD, NOW)
    else:
        assert status is Status.PENDING
        ceiling = min(timedelta(hours=6), timedelta(minutes=1) * 2 ** (attempts - 1))
        assert NOW + ceiling / 2 <= at <= NOW + ceiling


def test_policies_are_checked() -> None:
    for bad in (
        {"attempts": 0},
        {"base": timedelta(0)},
        {"base": timedelta(hours=2), "cap": timedelta(hours=1)},
    ):
        with pytest.raises(ConfigurationError):
            RetryPolicy(**bad)
    with pytest.raises(MalformedInput):
        after_failure(RetryPolicy(), 0, permanent=False, now=NOW, draw=0.5)
