"""Hypothesis strategies shared by the entitlement tests."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import strategies as st

from securebox_auth.entitlements.model import (
    CompanyScope,
    DocumentScope,
    Operation,
    Rights,
    Theme,
)
from securebox_auth.identity import Siren


def rights(
    companies: Sequence[Siren],
    themes: Sequence[Theme],
    operations: Sequence[Operation],
    documents: Sequence[str] = (),
) -> st.SearchStrategy[Rights]:
    """Rights on the whole portfolio or some of ``companies``; on every document or on
    some of ``themes`` (and of ``documents``, when given); some of ``operations``."""
    chosen = st.frozensets(st.sampled_from(list(themes)))
    if documents:
        scope = st.builds(
            lambda t, d: DocumentScope(themes=t, documents=d),
            chosen,
            st.frozensets(st.sampled_from(list(documents))),
        )
    else:
        scope = chosen.map(lambda t: DocumentScope(themes=t))
    return st.builds(
        Rights,
        st.one_of(
            st.just(CompanyScope.portfolio()),
            st.frozensets(st.sampled_from(list(companies))).map(lambda s: CompanyScope(chosen=s)),
        ),
        st.one_of(st.just(DocumentScope.all()), scope),
        st.frozensets(st.sampled_from(list(operations))),
    )
