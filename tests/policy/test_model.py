"""The frozen policy model (policy/model.py): defaults and validation with key paths."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from securebox_auth.errors import PolicyError
from securebox_auth.lockout.rules import LockoutRules
from securebox_auth.policy.model import (
    PSD2_DEFAULT,
    SEED_SENSITIVE_OPERATIONS,
    AcrLevels,
    Linking,
    LoginRules,
    OperationRule,
    Policy,
    RecoveryRules,
    Renewal,
    RenewalRule,
    SessionRules,
    Unlisted,
)


def test_defaults_are_the_seed_rules() -> None:
    p = Policy()
    assert p.renewal.every_days == 90
    assert not p.renewal.every_login
    assert p.session.idle_timeout == timedelta(minutes=5)
    assert p.lockout == LockoutRules()
    assert p.lockout.max_failures == 5
    assert p.unlisted_operations is Unlisted.DENY
    for name in SEED_SENSITIVE_OPERATIONS:
        rule = p.operation(name)
        assert rule is not None
        assert rule.sensitive
        assert rule.min_categories == 2
    payee = p.operation("payee_management")
    assert payee is not None
    assert payee.single_use
    assert payee.linking is Linking.PAYEE
    transfer = p.operation("sepa_instant_transfer")
    assert transfer is not None
    assert transfer.linking is Linking.AMOUNT_PAYEE
    assert transfer.payment
    batch = p.operation("payment_batch_signing")
    assert batch is not None
    assert batch.linking is Linking.BATCH
    assert p.operation("nope") is None
    assert PSD2_DEFAULT.operation_names == p.operation_names


def test_policy_is_frozen_and_comparable() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        PSD2_DEFAULT.name = "x"  # type: ignore[misc]
    assert dataclasses.replace(PSD2_DEFAULT, name="other") != PSD2_DEFAULT
    assert hash(Policy()) == hash(Policy())


def test_with_operations_replaces_by_name() -> None:
    rule = OperationRule(
        name="payee_management",
        max_age=timedelta(minutes=1),
        single_use=True,
        linking=Linking.PAYEE,
        methods=("cap_sign",),
    )
    p = PSD2_DEFAULT.with_operations([rule, OperationRule(name="extra", methods=("cap_sign",))])
    assert p.operation("payee_management") == rule
    assert p.operation_names[-1] == "extra"
    assert len(p.operations) == len(PSD2_DEFAULT.operations) + 1


def test_renewal_channels() -> None:
    renewal = Renewal(every_days=90, channels=(("aisp", RenewalRule(every_days=180)),))
    assert renewal.for_channel("aisp").every_days == 180
    assert renewal.for_channel("web").every_days == 90
    assert renewal.default_rule == RenewalRule(every_days=90)
    assert renewal.for_channel("web").period == timedelta(days=90)


@pytest.mark.parametrize(
    ("build", "path"),
    [
        (lambda: OperationRule(name="x", methods=("nope",)), "operation.x.methods[0]"),
        (
            lambda: OperationRule(name="x", methods=("cap_sign", "cap_sign")),
            "operation.x.methods[1]",
        ),
        (lambda: OperationRule(name="x", methods=()), "operation.x.methods"),
        (lambda: OperationRule(name="x", methods=("totp",)), "operation.x.methods"),
        (lambda: OperationRule(name="x", min_categories=4), "operation.x.min_categories"),
        (lambda: OperationRule(name="x", max_age=timedelta(0)), "operation.x.max_age"),
        (lambda: OperationRule(name="x", max_age=timedelta(days=2)), "operation.x.max_age"),
        (lambda: OperationRule(name="x", max_age=timedelta(seconds=1.5)), "operation.x.max_age"),
        (lambda: OperationRule(name="x", linking=Linking.PAYEE), "operation.x.single_use"),
        (
            lambda: OperationRule(
                name="x", methods=("cap_identify",), single_use=True, linking=Linking.AMOUNT_PAYEE
            ),
            "operation.x.methods",
        ),
        (lambda: OperationRule(name="x", sensitive=False), "operation.x.sensitive"),
        (lambda: OperationRule(name="bad name"), "operation.bad name"),
        (lambda: LoginRules(methods=("confidential_code", "recovery_code")), "login.methods"),
        (lambda: Renewal(every_days=0), "renewal.every_days"),
        (lambda: Renewal(every_login=1), "renewal.every_login"),  # type: ignore[arg-type]
        (
            lambda: Renewal(channels=(("aisp", RenewalRule(every_days=5000)),)),
            "renewal.channel.aisp.every_days",
        ),
        (
            lambda: Renewal(channels=(("a", RenewalRule()), ("a", RenewalRule()))),
            "renewal.channel.a",
        ),
        (lambda: SessionRules(idle_timeout=timedelta(0)), "session.idle_timeout"),
        (
            lambda: SessionRules(
                idle_timeout=timedelta(hours=2), absolute_lifetime=timedelta(hours=1)
            ),
            "session.absolute_lifetime",
        ),
        (lambda: RecoveryRules(reset_link_lifetime=timedelta(0)), "recovery.reset_link_lifetime"),
        (lambda: AcrLevels(strong="has space"), "acr.strong"),
        (lambda: AcrLevels(strong='quo"te'), "acr.strong"),
        (lambda: AcrLevels(simple="same", strong="same"), "acr"),
        (lambda: Policy(name=""), "name"),
        (
            lambda: Policy(operations=(OperationRule(name="a"), OperationRule(name="a"))),
            "operation.a",
        ),
    ],
)
def test_validation_names_the_key(build: object, path: str) -> None:
    with pytest.raises(PolicyError) as caught:
        build()  # type: ignore[operator]
    assert caught.value.path == path
    assert str(caught.value).startswith(path)
