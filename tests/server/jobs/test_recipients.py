"""The worker follows the user's profile: the channel they prefer for new documents (or
none) and the language they chose, on SQLite and PostgreSQL."""

from __future__ import annotations

from securebox_auth.factors.oob import Channel
from securebox_auth.stores.sql.store import SqlStore
from securebox_server.jobs.recipients import Destination, Recipients
from securebox_server.profile.model import NewDocuments, Preferences
from securebox_server.profile.store import ProfileStore
from tests.entitlements.world import PU, A
from tests.server.jobs.conftest import PUBLIC_URL, SmsProvider, SmtpRelay, World, sender

MAIL = "pu@acme.example"
PHONE = "+33639980042"


def _prefer(world: World, choice: NewDocuments, language: str) -> None:
    assert isinstance(world.box.store, SqlStore)
    ProfileStore(world.box.store).set_preferences(
        PU, Preferences(choice, language), world.clock.now()
    )


def test_without_preferences_email_comes_first_in_french(world: World) -> None:
    world.verify(PU, Channel.EMAIL, MAIL)
    world.verify(PU, Channel.SMS, PHONE)
    found = Recipients(world.engine, world.box).destination(A.value, "01", "x")
    assert found == Destination(Channel.EMAIL, MAIL, "fr")


def test_the_preferred_channel_and_language_are_used(
    world: World, smtp_relay: SmtpRelay, sms_hook: SmsProvider
) -> None:
    world.verify(PU, Channel.EMAIL, MAIL)
    world.verify(PU, Channel.SMS, PHONE)
    _prefer(world, NewDocuments.SMS, "en")
    world.notify(world.document(1), "01")
    assert sender(world, smtp_relay, sms_hook).run().sent == 1
    assert smtp_relay.relay.messages() == []
    (sms,) = sms_hook.received
    assert sms["to"] == PHONE
    assert sms["text"] == f"1 new document in your Digital Box: {PUBLIC_URL}"


def test_the_other_channel_when_the_preferred_one_has_no_address(world: World) -> None:
    world.verify(PU, Channel.EMAIL, MAIL)
    _prefer(world, NewDocuments.SMS, "en")
    found = Recipients(world.engine, world.box).destination(A.value, "01", "x")
    assert found == Destination(Channel.EMAIL, MAIL, "en")


def test_nothing_is_sent_to_a_user_who_chose_none(world: World, smtp_relay: SmtpRelay) -> None:
    world.verify(PU, Channel.EMAIL, MAIL)
    _prefer(world, NewDocuments.NONE, "fr")
    row = world.notify(world.document(1), "01")
    sender(world, smtp_relay).run()
    assert smtp_relay.relay.messages() == []
    assert world.statuses()[row] == "dropped"
