"""What the demo's digital box holds, as pure data: the subscription's companies, the senders
and their document types, and a plan of dated documents over the last eighteen months
(:func:`plan`), the same for the same day. :mod:`securebox_server.demo_box` publishes it."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Final

from stdnum import luhn
from stdnum.fr import siren as stdnum_siren

from securebox_auth.entitlements.model import Theme
from securebox_auth.identity import Siren
from securebox_server.box.model import DocumentType

__all__ = ["COMPANIES", "MONTHS", "PLANNED_TYPES", "Planned", "plan"]


def _siren(body: str) -> Siren:
    """A SIREN from its first eight digits (the ninth is the Luhn check digit)."""
    return Siren(stdnum_siren.validate(body + luhn.calc_check_digit(body)))


#: The demo subscription's companies (fictional names; SIRENs valid by their check digit).
COMPANIES: Final = (
    (_siren("41238567"), "Boulangerie Martin SAS"),
    (_siren("52814693"), "SCI Martin Patrimoine"),
    (_siren("79306215"), "Transports Martin et Fils SARL"),
)
BAKERY, SCI, TRANSPORT = (siren for siren, _ in COMPANIES)
MONTHS: Final = (
    *("janvier", "février", "mars", "avril", "mai", "juin", "juillet"),
    *("août", "septembre", "octobre", "novembre", "décembre"),
)
#: The senders, named as the box shows them (a sender name has no spaces).
BANK: Final = "Banque"
INSURER: Final = "Mutuelle-Artisans"
URSSAF: Final = "URSSAF"
DGFIP: Final = "DGFiP"
#: Their display names: the names their API clients are registered with.
SENDER_NAMES: Final = (
    (BANK, "Banque Exemple Entreprises"),
    (INSURER, "Mutuelle des Artisans"),
    (URSSAF, "Urssaf Île-de-France"),
    (DGFIP, "Direction générale des Finances publiques"),
)


def _type(
    sender: str, name: str, title: str, theme: str, validity: int | None, warning: int,
    retention: tuple[str, int],
) -> DocumentType:  # fmt: skip
    return DocumentType(sender, name, title, Theme(theme), validity, warning, *retention)


# Retention classes: commercial (Code de commerce art. L123-22, 10 years), tax (Livre des
# procédures fiscales art. L102 B, 6 years), social (Code de la sécurité sociale art. L244-3
# and the URSSAF's own 5 years, kept 6), none (a notice of no legal value once read).
COMMERCIAL, TAX, SOCIAL, NONE = ("commercial", 10), ("tax", 6), ("social", 6), ("none", 0)
PLANNED_TYPES: Final = (
    _type(BANK, "releve-compte", "Relevé de compte", "statements", None, 0, COMMERCIAL),
    _type(BANK, "releve-carte", "Relevé d'opérations carte", "statements", None, 0, COMMERCIAL),
    _type(BANK, "avis-operation", "Avis d'opération", "notices", 180, 15, NONE),
    _type(BANK, "conditions", "Conditions et conventions", "contracts", None, 0, COMMERCIAL),
    _type(BANK, "lre", "Lettre recommandée électronique", "registered", None, 0, COMMERCIAL),
    _type(INSURER, "avis-echeance", "Avis d'échéance", "notices", 180, 15, NONE),
    _type(INSURER, "attestation", "Attestation d'assurance", "contracts", 365, 30, COMMERCIAL),
    _type(INSURER, "conditions", "Conditions particulières", "contracts", None, 0, COMMERCIAL),
    _type(URSSAF, "dsn", "Accusé de réception DSN", "payroll", None, 0, SOCIAL),
    _type(URSSAF, "echeancier", "Échéancier de cotisations", "payroll", None, 0, SOCIAL),
    _type(URSSAF, "vigilance", "Attestation de vigilance", "payroll", 180, 15, SOCIAL),
    _type(URSSAF, "lre", "Courrier recommandé", "registered", None, 0, SOCIAL),
    _type(DGFIP, "tva", "Accusé de réception de déclaration de TVA", "tax", None, 0, TAX),
    _type(DGFIP, "cfe", "Avis de cotisation foncière des entreprises", "tax", None, 0, TAX),
    _type(DGFIP, "regularite", "Attestation de régularité fiscale", "tax", 180, 15, TAX),
    _type(DGFIP, "lre", "Courrier recommandé", "registered", None, 0, TAX),
)


@dataclass(frozen=True, slots=True)
class Planned:
    """One document to publish: by ``sender`` as ``type`` to ``companies``, dated
    ``issued_at`` and published ``published_at`` (a few hours later)."""

    sender: str
    type: str
    companies: tuple[Siren, ...]
    label: str
    issued_at: datetime
    published_at: datetime
    lines: tuple[str, ...]


_NOTICES: Final = (
    ("Prélèvement SEPA", ("EDF Entreprises", "Orange Business", "Engie Pro", "Total Energies")),
    ("Virement SEPA reçu", ("Carrefour Market Dole", "Mairie de Besançon", "SNCF Fret")),
    ("Virement international émis", ("Moulins Bourgeois GmbH", "Transportes Ibéricos SL")),
    ("Remise de chèques", ("3 chèques", "5 chèques", "1 chèque")),
    ("Rejet de prélèvement", ("Assurance flotte", "Crédit-bail utilitaire")),
)


def _month(now: datetime, back: int) -> datetime:
    """The first of the month ``back`` months before ``now``'s, at 06:00 (``now``'s zone)."""
    year, month = divmod(now.year * 12 + now.month - 1 - back, 12)
    return now.replace(year=year, month=month + 1, day=1, hour=6, minute=0, second=0,
                       microsecond=0)  # fmt: skip


def _amount(rng: random.Random) -> str:
    euros = f"{rng.randrange(1_500, 950_000) / 100:,.2f}".replace(",", " ").replace(".", ",")
    return f"{euros} €"


def _monthly(now: datetime, months: int, rng: random.Random) -> Iterator[Planned]:
    for back in range(months, 0, -1):
        first = _month(now, back - 1)
        this = f"{MONTHS[first.month - 1]} {first.year}"
        previous = _month(now, back)
        last = f"{MONTHS[previous.month - 1]} {previous.year}"

        def day(days: int, hours: int = 0, first: datetime = first) -> datetime:
            return first + timedelta(days=days, hours=hours)

        for siren, company in COMPANIES:
            statement = ("Compte courant professionnel",)
            yield _doc(BANK, "releve-compte", siren, f"Relevé de compte courant — {last}",
                       day(2), (company, *statement))  # fmt: skip
            yield _doc(BANK, "releve-compte", siren, f"Récapitulatif des frais — {last}",
                       day(4), (company, "Frais et commissions"))  # fmt: skip
            yield _doc(DGFIP, "tva", siren, f"Déclaration de TVA CA3 — {last}",
                       day(18, rng.randrange(8)), (company,))  # fmt: skip
        for siren, company in COMPANIES[::2]:  # the companies with a card and employees
            card = ("Carte Business n° •••• 4971",)
            yield _doc(BANK, "releve-carte", siren, f"Relevé carte affaires — {this}",
                       day(27), (company, *card))  # fmt: skip
            yield _doc(URSSAF, "dsn", siren, f"DSN mensuelle — période {last}",
                       day(5, rng.randrange(10)), (company,))  # fmt: skip
        if first.month % 3 == 1:
            quarter = f"{(previous.month - 1) // 3 + 1}e trimestre {previous.year}"
            yield _doc(BANK, "releve-compte", BAKERY, f"Relevé de compte épargne — {quarter}",
                       day(3), (COMPANIES[0][1], "Livret"))  # fmt: skip
            for siren, company in COMPANIES[::2]:
                yield _doc(URSSAF, "echeancier", siren, f"Échéancier de cotisations — {quarter}",
                           day(9), (company,))  # fmt: skip


def _notices(now: datetime, count: int, rng: random.Random) -> Iterator[Planned]:
    """Bank notices over their 180 days of validity; the oldest three end within days."""
    for n in range(count):
        days = 176 - n if n < 3 else rng.randrange(1, 170)
        siren, company = rng.choice(COMPANIES)
        kind, parties = rng.choice(_NOTICES)
        label = f"Avis — {kind} — {rng.choice(parties)} — {_amount(rng)}"
        at = now - timedelta(days=days, hours=rng.randrange(1, 12))
        yield _doc(BANK, "avis-operation", siren, label, at, (company,))


def _yearly(now: datetime, fast: bool, rng: random.Random) -> Iterator[Planned]:
    every = tuple(siren for siren, _ in COMPANIES)
    month = partial(_month, now)

    def ago(days: int) -> datetime:
        return now - timedelta(days=days)

    registered = ("Lettre recommandée électronique",)
    tariffs = f"Conditions tarifaires {month(11).year} des professionnels"
    yield _doc(BANK, "conditions", every, tariffs,
               month(11), ("Tarifs applicables au 1er janvier",))  # fmt: skip
    yield _doc(URSSAF, "vigilance", BAKERY, "Attestation de vigilance",
               ago(172), (COMPANIES[0][1],))  # fmt: skip
    yield _doc(URSSAF, "vigilance", TRANSPORT, "Attestation de vigilance",
               ago(40), (COMPANIES[2][1],))  # fmt: skip
    yield _doc(INSURER, "attestation", TRANSPORT, "Attestation d'assurance flotte automobile",
               ago(360), ("Contrat Flotte Pro n° FL-2025-0412",))  # fmt: skip
    yield _doc(DGFIP, "regularite", SCI, "Attestation de régularité fiscale",
               ago(20), (COMPANIES[1][1],))  # fmt: skip
    yield _doc(URSSAF, "lre", TRANSPORT, "Mise en demeure — cotisations du 2e trimestre",
               ago(95), registered)  # fmt: skip
    if fast:
        return
    for back in (17, 5):
        yield _doc(DGFIP, "cfe", every, f"Avis de CFE {month(back).year}",
                   month(back) + timedelta(days=14), ("Échéance au 15 décembre",))  # fmt: skip
    for siren, company in COMPANIES:
        yield _doc(INSURER, "conditions", siren, "Conditions particulières multirisque",
                   month(16) + timedelta(days=7), (company,))  # fmt: skip
        for back in (4, 1):
            label = f"Avis d'échéance — prime trimestrielle {_amount(rng)}"
            yield _doc(INSURER, "avis-echeance", siren, label,
                       month(back) + timedelta(days=10), (company,))  # fmt: skip
    yield _doc(BANK, "conditions", BAKERY, "Offre de prêt professionnel — four à sole",
               month(14) + timedelta(days=4), ("Prêt n° 78-004512",))  # fmt: skip
    yield _doc(BANK, "lre", SCI, "Notification de modification de convention de compte",
               month(8) + timedelta(days=2), registered)  # fmt: skip
    yield _doc(DGFIP, "lre", SCI, "Demande de renseignements — revenus fonciers",
               month(7) + timedelta(days=21), registered)  # fmt: skip


def _doc(
    sender: str, type_: str, companies: Siren | tuple[Siren, ...], label: str,
    issued_at: datetime, lines: tuple[str, ...],
) -> Planned:  # fmt: skip
    targets = companies if isinstance(companies, tuple) else (companies,)
    return Planned(sender, type_, targets, label, issued_at, issued_at + timedelta(hours=3), lines)


def plan(now: datetime, *, fast: bool) -> list[Planned]:
    """The documents to publish, oldest first: 18 months (``fast``: 2) of monthly
    statements, declarations and card statements, quarterly schedules, bank notices over
    the last six months (three of them ending within days), yearly letters, attestations
    (one ending within days) and registered mail. Nothing dated after ``now``."""
    rng = random.Random(15)  # noqa: S311 - demo content, not a secret
    months, notices = (2, 6) if fast else (18, 60)
    documents = [
        *_monthly(now, months, rng),
        *_notices(now, notices, rng),
        *_yearly(now, fast, rng),
    ]
    return sorted(
        (d for d in documents if d.published_at <= now),
        key=lambda d: (d.published_at, d.label),
    )
