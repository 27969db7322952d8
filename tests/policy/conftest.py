"""Fixtures of the policy tests (values and helpers live in ``support.py``)."""

from __future__ import annotations

import pytest

from securebox_auth.policy import PSD2_DEFAULT, Policy


@pytest.fixture
def policy() -> Policy:
    return PSD2_DEFAULT
