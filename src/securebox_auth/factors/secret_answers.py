"""Secret-question answers, pure: normalised (case, accents, spaces) and hashed with the
code hasher (peppered argon2id, bound to the principal and the question), never stored or
shown in clear. A policy option, off by default: NIST SP 800-63B-4 sec. 3.1.1.2 forbids
prompting for knowledge-based authentication (``securebox policy lint`` warns)."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from securebox_auth.crypto.hashing import CodeHasher
from securebox_auth.errors import MalformedInput
from securebox_auth.identity import Principal

__all__ = ["MAX_ANSWER", "SecretAnswers", "hash_answers", "normalise_answer", "verify_answers"]

MAX_ANSWER: Final = 200
#: Questions a user sets (each checked at recovery; all must match).
QUESTIONS: Final = 2


def normalise_answer(raw: object) -> str:
    """Case folded, accents removed (NFKD without combining marks), runs of spaces and
    punctuation-free whitespace collapsed: "  Élodie  Martin " == "elodie martin"."""
    if not isinstance(raw, str) or len(raw) > MAX_ANSWER:
        raise MalformedInput(f"an answer is text of at most {MAX_ANSWER} characters")
    decomposed = unicodedata.normalize("NFKD", raw)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    text = " ".join(bare.casefold().split())
    if not text:
        raise MalformedInput("an answer is empty")
    return text


@dataclass(frozen=True, slots=True)
class SecretAnswers:
    """The stored form: question id -> hash (the answers themselves are never kept)."""

    hashes: Mapping[str, str] = field(repr=False)


def _material(question: str, answer: str) -> str:
    return f"question:{question}\n{answer}"


def hash_answers(
    principal: Principal, answers: Mapping[str, object], hasher: CodeHasher
) -> SecretAnswers:
    if len(answers) != QUESTIONS or any(not q or len(q) > 64 for q in answers):
        raise MalformedInput(f"set {QUESTIONS} questions")
    hashes = {
        q: hasher.hash(principal, _material(q, normalise_answer(a))) for q, a in answers.items()
    }
    return SecretAnswers(hashes)


def verify_answers(
    principal: Principal,
    stored: SecretAnswers | None,
    given: Mapping[str, object],
    hasher: CodeHasher,
    questions: Sequence[str],
) -> bool:
    """All answers right. Without ``stored`` (unknown user), the same argon2 work is done
    against hashes nobody knows, so the time says nothing."""
    ok = stored is not None
    for question in questions:
        answer = normalise_answer(given.get(question, "") or "-")
        material = _material(question, answer)
        known = stored.hashes.get(question) if stored is not None else None
        if known is None:
            hasher.verify_dummy(principal, material)
            ok = False
        elif not hasher.verify(known, principal, material):
            ok = False
    return ok
