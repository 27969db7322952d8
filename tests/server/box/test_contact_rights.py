"""box/contact_rights.py: only a user of the subscription who may view every document of the
company (any theme, any id: the library's check) may set its notification address; the
code's reference binds the subscription, the company and the address."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from securebox_auth.entitlements.check import check
from securebox_auth.entitlements.model import Operation, Theme
from securebox_auth.entitlements.visibility import visibility_filter
from securebox_auth.identity import Principal, Siren
from securebox_auth.shell.keys import DerivedKeys
from securebox_server.box.contact_rights import contact_reference, may_set_contact
from tests.entitlements.world import ACCOUNTANT, ACCOUNTS, C1, C2, NOW, A, doc, sub_a, sub_b

THEMES = st.from_regex(r"[a-z][a-z0-9_-]{0,20}", fullmatch=True).map(Theme)


@given(
    st.sampled_from(sorted(ACCOUNTS, key=lambda p: p.key)),
    st.sampled_from([C1, C2]),
    st.lists(THEMES, min_size=1, max_size=4),
)
def test_may_set_means_every_document_of_the_company_is_visible(
    who: Principal, company: Siren, themes: list[Theme]
) -> None:
    account = ACCOUNTS[who]
    subs = [sub_a(), sub_b()]
    allowed = may_set_contact(visibility_filter(account, subs, NOW), who.client_id, company)
    if allowed:  # any document of the company, whatever its theme, is one they may view
        for n, theme in enumerate(themes):
            ref = doc(n + 1, company=company, theme=theme)
            assert check(account, Operation.VIEW, ref, sub_a(), NOW).allowed
    if who == ACCOUNTANT or who.client_id != A:
        assert not allowed  # a third party never, even with an accepted invitation


def test_the_reference_binds_company_and_address() -> None:
    keys = DerivedKeys.generate().master
    one = contact_reference(keys, A, C1, "Compta@Acme.example")
    assert one == contact_reference(keys, A, C1, " compta@acme.example ")
    assert one != contact_reference(keys, A, C2, "compta@acme.example")
    assert one != contact_reference(keys, A, C1, "other@acme.example")
