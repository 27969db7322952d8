"""``securebox card``: a demo CAP card, its server side, and a reader emulator.

* ``securebox card new``: create a software card file and register the card with a demo
  issuer (``--issuer DIR``: the issuer keys, encrypted under ``$SECUREBOX_ISSUER_PASSPHRASE``,
  the application key for PAN digests, and one server-side record per card);
* ``securebox card serve``: serve the card to ``pcscd`` through ``vpcd`` (reversed mode,
  loopback), a blank card in the second slot;
* ``securebox card cap --mode identify|respond|sign|tds ...``: act as a CAP reader in front
  of any PC/SC reader (or of the card file itself with ``--card``), ask the PIN without echo
  and print the code, like a hardware reader;
* ``securebox card check ... CODE``: verify a code as the bank's server would;
* ``securebox card piv serve``: the software PIV card in a PC/SC reader
  (:mod:`securebox_auth.cards.piv_cli`).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from securebox_auth.cards.cardfile import demo_card, luhn_pan
from securebox_auth.cards.piv_cli import register_piv
from securebox_auth.cards.prompt import ask_secret
from securebox_auth.cards.reader import CapReader, CapReading
from securebox_auth.cards.softcard import BlankCard, SoftEmvCard
from securebox_auth.cards.vpcd import VPCD_PORT, VpcdServer, pcscd_config
from securebox_auth.crypto.keys import StaticKeyring
from securebox_auth.emv.commands import pin_block
from securebox_auth.emv.definitions import load_definitions, register_definitions
from securebox_auth.emv.issuer import SoftwareIssuerKeys
from securebox_auth.emv.profiles import CapMode, TerminalInput, get_profile, numeric_currency
from securebox_auth.errors import ConfigurationError, MalformedInput, NotFound
from securebox_auth.factors.cap import (
    CapCard,
    CapRequest,
    CardParameters,
    enrol_card,
    issue_challenge,
    verify_cap,
)
from securebox_auth.lockout.rules import LockoutRules, LockoutState
from securebox_auth.policy.linking import Money
from securebox_auth.stores.lockout_codec import elements_document, elements_from_document

__all__ = ["register"]

_PASSPHRASE_ENV: Final = "SECUREBOX_ISSUER_PASSPHRASE"  # noqa: S105 - a variable's name
# The demo issuer's keys are fake and local; the command says so when this is in use.
_DEMO_PASSPHRASE: Final = "securebox-demo"  # noqa: S105
_DEFAULT_PROFILE: Final = {"uk": "pinsentry_uk", "be": "vasco_cap"}


def _passphrase() -> str:
    return os.environ.get(_PASSPHRASE_ENV) or _DEMO_PASSPHRASE


def _issuer(directory: Path) -> tuple[SoftwareIssuerKeys, StaticKeyring]:
    """The demo issuer's keys and the application's PAN-digest key (created if absent)."""
    directory.mkdir(parents=True, exist_ok=True)
    keys_file, app_file = directory / "issuer-keys.json", directory / "app-key.hex"
    if keys_file.exists():
        issuer = SoftwareIssuerKeys.load(keys_file, _passphrase())
    else:
        issuer = SoftwareIssuerKeys.generate()
        issuer.save(keys_file, _passphrase())
    if not app_file.exists():
        fd = os.open(app_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32))
    return issuer, StaticKeyring.from_hex("app:" + app_file.read_text().strip())


def _lockout_to_json(state: LockoutState) -> dict[str, Any]:
    return {
        k: v.isoformat() if isinstance(v, datetime) else v
        for k, v in (
            ("failures", state.failures),
            ("temporary_blocks", state.temporary_blocks),
            ("blocked_until", state.blocked_until),
            ("permanent", state.permanent),
            ("last_failure_at", state.last_failure_at),
        )
    } | {"elements": elements_document(state.elements)}


def _lockout_from_json(data: dict[str, Any]) -> LockoutState:
    def when(name: str) -> datetime | None:
        value = data.get(name)
        return datetime.fromisoformat(value) if value else None

    failures, blocks = int(data["failures"]), int(data["temporary_blocks"])
    return LockoutState(
        failures=failures,
        temporary_blocks=blocks,
        blocked_until=when("blocked_until"),
        permanent=bool(data["permanent"]),
        last_failure_at=when("last_failure_at"),
        elements=elements_from_document(
            data.get("elements"),
            failures=failures,
            temporary_blocks=blocks,
            last_failure_at=when("last_failure_at"),
        ),
    )


def _record_path(directory: Path, card_id: str) -> Path:
    if not card_id.replace("-", "").isalnum():
        raise MalformedInput("a card id is letters, digits and dashes")
    return directory / "cards" / f"{card_id}.json"


def _new(args: argparse.Namespace) -> int:
    pin = args.pin or ask_secret(
        "PIN for the new card (4-12 digits): ", instead="pass --pin (testing only)"
    )
    pin_block(pin)  # the reader's rule (4 to 12 digits): a card no reader can use is refused
    issuer, app_keys = _issuer(Path(args.issuer))
    pan, psn = luhn_pan("999999"), "01"
    state = demo_card(
        args.kind, master_key=issuer.personalisation_key(pan, psn), pan=pan, psn=psn, pin=pin
    )
    profile = args.profile or _DEFAULT_PROFILE.get(args.kind, "pinsentry_uk")
    card_file = Path(args.card)
    if card_file.exists() and not args.force:
        raise ConfigurationError(f"{card_file} exists (use --force to replace it)")
    state.save(card_file)
    parameters = CardParameters(
        recipe=state.recipe,
        aip=state.aip,
        ipb=state.ipb,
        iaf=state.iaf,
        cdol1=state.cdol1,
        predicted_iad=state.predicted_iad(),
        profile=profile,
    )
    card_id = f"card-{secrets.token_hex(4)}"
    record, _ = enrol_card(
        card_id=card_id,
        subject=args.subject,
        pan=pan,
        psn=psn,
        parameters=parameters,
        issuer=issuer,
        pan_keys=app_keys,
        now=datetime.now(UTC),
        last_atc=state.atc or None,
    )
    path = _record_path(Path(args.issuer), card_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {"card": record.to_dict(), "lockout": _lockout_to_json(LockoutState())}
    path.write_text(json.dumps(body, indent=2), encoding="utf-8")
    print(f"card file:   {card_file} (PAN …{pan[-4:]}, {args.kind} card)")
    print(f"registered:  {card_id} for {args.subject}, reader profile {profile}")
    if not os.environ.get(_PASSPHRASE_ENV):
        print(f"note: the demo issuer keys use a demo passphrase; set {_PASSPHRASE_ENV}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    card = SoftEmvCard.from_file(Path(args.card))
    server = VpcdServer([card, BlankCard()], host=args.host, port=args.port)
    server.start()  # listening before saying so: pcscd may be started right after
    print("Serving the card on slot 0 and a blank card on slot 1. Now start pcscd with a")
    print("configuration directory holding one file with these lines (pcscd --config DIR):")
    print(pcscd_config(args.host, args.port))
    print("Stop pcscd before stopping this server (Ctrl-C).", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        return 0
    return 0


def _terminal_input(args: argparse.Namespace) -> TerminalInput:
    mode = CapMode(args.mode)
    if mode is CapMode.IDENTIFY:
        return TerminalInput.identify()
    if mode is CapMode.RESPOND:
        if not args.challenge:
            raise MalformedInput("respond mode needs --challenge")
        return TerminalInput.respond(args.challenge)
    if mode is CapMode.SIGN:
        if not args.challenge or not args.amount:
            raise MalformedInput("sign mode needs --challenge (the reference) and --amount")
        money = Money.parse(args.amount, args.currency)
        return TerminalInput.sign(args.challenge, money.minor, numeric_currency(money.currency))
    if not args.data:
        raise MalformedInput("tds mode needs at least one --data NUMBER")
    return TerminalInput.tds_numbers(args.data)


def _read_code(args: argparse.Namespace, data: TerminalInput) -> CapReading:
    profile = get_profile(args.profile)

    def ask() -> str:
        return args.pin or ask_secret("PIN: ", instead="pass --pin (testing only)")

    if args.card:
        card = SoftEmvCard.from_file(Path(args.card))
        return CapReader(card, profile).run(data, ask)
    from securebox_auth.cards.pcsc import open_cap_reader  # noqa: PLC0415 - needs pyscard

    with open_cap_reader(args.reader) as transport:
        return CapReader(transport, profile).run(data, ask)


def _cap(args: argparse.Namespace) -> int:
    reading = _read_code(args, _terminal_input(args))
    print(reading.display)
    return 0


def _check(args: argparse.Namespace) -> int:
    directory = Path(args.issuer)
    path = _record_path(directory, args.card_id)
    if not path.is_file():
        known = sorted(p.stem for p in (directory / "cards").glob("*.json"))
        listed = f" (registered: {', '.join(known)})" if known else ""
        raise NotFound(
            f"no card {args.card_id!r} in the issuer directory {directory}{listed}: use the id "
            "that 'securebox card new' printed, with the same --issuer"
        )
    issuer, _ = _issuer(directory)
    body = json.loads(path.read_text(encoding="utf-8"))
    card, lockout = CapCard.from_dict(body["card"]), _lockout_from_json(body["lockout"])
    now = datetime.now(UTC)
    data = _terminal_input(args)
    if data.mode is CapMode.RESPOND:
        # demo shortcut: the challenge typed here is taken as issued by the server just now
        challenge, _ = issue_challenge(
            card, challenge_id="cli", value=args.challenge, purpose="login", now=now
        )
        request = CapRequest.respond(challenge)
    else:
        request = CapRequest(data)
    verdict = verify_cap(
        card, request, args.code, lockout=lockout, now=now, issuer=issuer,
        lockout_rules=LockoutRules(),
    )  # fmt: skip
    body = {"card": verdict.card.to_dict(), "lockout": _lockout_to_json(verdict.lockout)}
    path.write_text(json.dumps(body, indent=2), encoding="utf-8")
    reason = f" ({verdict.reason.value})" if verdict.reason else ""
    print(f"{verdict.outcome.value}{reason}" + (f", ATC {verdict.atc}" if verdict.atc else ""))
    return 0 if verdict.ok else 1


def _mode_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mode", required=True, choices=[m.value for m in CapMode])
    parser.add_argument("--challenge", help="respond: the challenge; sign: the reference digits")
    parser.add_argument("--amount", help='sign: the amount, for instance "1250.50"')
    parser.add_argument("--currency", default="EUR", help="sign: ISO 4217 code (default EUR)")
    parser.add_argument("--data", action="append", help="tds: a number to sign (repeat)")


def _with_definitions(handler: Callable[[argparse.Namespace], int]) -> Callable[..., int]:
    """Register the bank's definitions files (``--definitions``) before the command runs."""

    def run(args: argparse.Namespace) -> int:
        for path in args.definitions or ():
            register_definitions(load_definitions(Path(path)))
        return handler(args)

    return run


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = subparsers.add_parser("card", help="a demo CAP card, its reader and its server side")
    group.add_argument(
        "--definitions",
        action="append",
        metavar="FILE",
        help="a TOML file of reader profiles, recipes and card templates to register (repeat)",
    )
    sub = group.add_subparsers(title="card commands", metavar="COMMAND", required=True)

    new = sub.add_parser("new", help="create a demo card and register it with a demo issuer")
    new.add_argument("--card", default="securebox-card.json", help="the card file to create")
    new.add_argument("--issuer", default="securebox-issuer", help="the demo issuer directory")
    new.add_argument("--kind", default="uk", help="card template: uk, be or a registered one")
    new.add_argument("--profile", help="reader profile (default: uk pinsentry_uk, be vasco_cap)")
    new.add_argument("--subject", default="123456789/01", help="the user the card belongs to")
    new.add_argument("--pin", help="the PIN (testing only: visible to other local users)")
    new.add_argument("--force", action="store_true", help="replace an existing card file")
    new.set_defaults(handler=_with_definitions(_new))

    serve = sub.add_parser("serve", help="serve the card to pcscd through vpcd (loopback)")
    serve.add_argument("--card", default="securebox-card.json", help="the card file")
    serve.add_argument("--host", default="127.0.0.1", help="a loopback address")
    serve.add_argument("--port", type=int, default=VPCD_PORT, help="slot 0 port (35963)")
    serve.set_defaults(handler=_with_definitions(_serve))

    cap = sub.add_parser("cap", help="act as a CAP reader: print the code for a mode")
    _mode_arguments(cap)
    cap.add_argument("--profile", default="pinsentry_uk", help="reader profile")
    cap.add_argument("--reader", help="PC/SC reader name (default: the first with a CAP card)")
    cap.add_argument("--card", help="use this software card file directly instead of PC/SC")
    cap.add_argument("--pin", help="the PIN (testing only; otherwise asked without echo)")
    cap.set_defaults(handler=_with_definitions(_cap))

    check = sub.add_parser("check", help="verify a code as the bank's server would")
    _mode_arguments(check)
    check.add_argument("--issuer", default="securebox-issuer", help="the demo issuer directory")
    check.add_argument("--card-id", required=True, help="the id printed by 'card new'")
    check.add_argument("code", help="the code the reader displayed")
    check.set_defaults(handler=_with_definitions(_check))

    register_piv(sub)
