"""The invitation e-mail and the one-time code SMS of a third party (pure composition; the
shell sends them through the server's gateways).

The e-mail carries the link (and, for an account opened for the invitation, the
identifier); the one-time code of that account goes by SMS only: a separate channel, never
the e-mail, never a page (ASVS 5 6.4.6).
"""

from __future__ import annotations

from datetime import datetime

from securebox_auth.factors.oob import Channel
from securebox_auth.factors.oob_issue import OobMessage
from securebox_auth.identity import Principal

__all__ = ["code_sms", "invitation_mail"]


def invitation_mail(
    *,
    to: str,
    inviter: str,
    link: str,
    expires_at: datetime,
    reference: str,
    new_account: Principal | None,
) -> OobMessage:
    until = f"{expires_at:%Y-%m-%d %H:%M} UTC"
    lines = [
        "(Français ci-dessous)",
        "",
        f"{inviter} invites you, as their third party, to see documents of their companies",
        "in their digital box. Log in, then open this link to accept or decline:",
        "",
        link,
        "",
        f"The link works once, until {until}.",
    ]
    if new_account is not None:
        lines += [
            "An account was opened for you:",
            f"  client identifier: {new_account.client_id.value}",
            f"  user number: {new_account.user_number.value}",
            "Your one-time code comes by SMS; you will choose your own code at the first login.",
        ]
    lines += [
        "If you do not know this company, ignore this message.",
        "",
        "---",
        "",
        f"{inviter} vous invite, en tant que tiers, à consulter les documents de ses",
        "entreprises dans sa boîte numérique. Connectez-vous, puis ouvrez ce lien pour",
        "accepter ou refuser :",
        "",
        link,
        "",
        f"Le lien ne sert qu'une fois, jusqu'au {until}.",
    ]
    if new_account is not None:
        lines += [
            "Un compte a été ouvert pour vous :",
            f"  identifiant client : {new_account.client_id.value}",
            f"  numéro d'utilisateur : {new_account.user_number.value}",
            "Votre code à usage unique arrive par SMS ; vous choisirez votre code à la "
            "première connexion.",
        ]
    lines += ["Si vous ne connaissez pas cette entreprise, ignorez ce message."]
    return OobMessage(
        Channel.EMAIL,
        to,
        "Invitation to a digital box / Invitation à une boîte numérique",
        "\n".join(lines),
        reference,
    )


def code_sms(*, to: str, code: str, reference: str) -> OobMessage:
    body = (
        f"Digital box: your one-time code is {code}. Never give it to anyone. / "
        f"Boîte numérique : votre code à usage unique est {code}. Ne le donnez à personne."
    )
    return OobMessage(Channel.SMS, to, "", body, reference)
