"""The public API: ``securebox_auth.__all__`` resolves, and importing it stays light."""

from __future__ import annotations

import subprocess
import sys

import securebox_auth


def test_every_public_name_resolves() -> None:
    missing = [name for name in securebox_auth.__all__ if not hasattr(securebox_auth, name)]
    assert missing == []
    assert len(set(securebox_auth.__all__)) == len(securebox_auth.__all__)


def test_the_sql_stores_are_imported_on_first_use() -> None:
    # The sql extra is optional: ``import securebox_auth`` must not need SQLAlchemy.
    probe = (
        "import sys, securebox_auth as sb\n"
        "assert 'sqlalchemy' not in sys.modules, 'imported eagerly'\n"
        "assert sb.SqlStore.__name__ == 'SqlStore'\n"
        "assert 'sqlalchemy' in sys.modules\n"
    )
    done = subprocess.run(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


def test_an_unknown_name_is_an_attribute_error() -> None:
    assert not hasattr(securebox_auth, "FactorService")


def test_a_cap_answer_is_made_of_public_names() -> None:
    # A portal says which reader mode a code was computed in (Identify or Respond at login,
    # Sign, TDS or Respond in a step-up): the mode is public like the answer it goes in.
    from securebox_auth.emv.profiles import CapMode  # noqa: PLC0415 - the private home

    assert securebox_auth.CapMode is CapMode
    answer = securebox_auth.CapAnswer("card-1", "12345678", mode=securebox_auth.CapMode.RESPOND)
    assert answer.mode.value == "respond"
    assert {m.value for m in securebox_auth.CapMode} == {"identify", "respond", "sign", "tds"}


def test_a_portal_imports_its_gateways_from_the_package() -> None:
    # ``from_policy(gateways=...)`` needs a sender per channel: a portal builds it from the
    # public names (HttpSmsGateway and SmtpGateway in production, FileOutbox in a demo).
    from securebox_auth.shell import gateways  # noqa: PLC0415

    for name in ("Gateway", "HttpSmsGateway", "SmtpGateway", "FileOutbox", "DeliveryFailed"):
        assert name in securebox_auth.__all__
        assert getattr(securebox_auth, name) is getattr(gateways, name)
    assert issubclass(securebox_auth.DeliveryRefused, securebox_auth.DeliveryFailed)
    assert issubclass(securebox_auth.DeliveryFailed, securebox_auth.SecureboxError)
