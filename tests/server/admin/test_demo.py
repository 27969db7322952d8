"""The demo of the issue end to end: an administrator grants partial rights (one company,
one theme and one more document) to a new collaborator, whose code goes to a letter; the
collaborator logs in with it and sees exactly those documents in the box."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from securebox_auth.entitlements.accounts import Operator
from securebox_auth.factors.totp import code_at as totp_code_at
from securebox_server.box.reading import BoxReader
from tests.server.admin.conftest import CODE_IN, PROFILE
from tests.server.box.conftest import C1, C2, CLIENT, PAYSLIP, T0, TAX_NOTICE, seed_world, who
from tests.server.box.test_pages import Site, listed
from tests.server.conftest import CODE, AppMaker, token


def test_partial_rights_show_only_those_documents(make_app: AppMaker, tmp_path: Path) -> None:
    letters = tmp_path / "letters"
    client, box, clock = make_app(code_letters_dir=letters)
    clock.at = T0
    seed_world(box)
    reader = client.app.state.server.reader  # type: ignore[attr-defined]
    assert isinstance(reader, BoxReader)
    reader.store.define_type(PAYSLIP)
    reader.store.define_type(TAX_NOTICE)
    site = Site(client, box, clock, reader)
    payslip_c1 = site.publish("payslip", C1)
    payslip_c2 = site.publish("payslip", C2)
    tax_c1 = site.publish("tax-notice", C1)
    other_tax_c1 = site.publish("tax-notice", C1)

    admin = who(CLIENT, "02")
    enrolled = box.enrol_first_totp(Operator("back-office"), admin)
    assert box.confirm_totp(admin, totp_code_at(enrolled.credential, clock.now()))
    browser = site.browser(admin)
    form = browser.get("/admin/users/new")
    assert tax_c1 in form.text  # the box's documents can be picked one by one
    data = {
        **PROFILE,
        "user_number": "04",
        "role": "user",
        "companies": "chosen",
        "chosen": [C1.value],
        "documents": "partial",
        "themes": ["payroll"],
        "document_ids": [tax_c1],
        "operations": ["view", "download"],
        "channel": "letter",
        "csrf_token": token(form.text),
    }
    sent = browser.post("/admin/users/new", data=data, follow_redirects=False)
    assert sent.status_code == 303, sent.text
    order = sent.headers["location"]
    for _ in range(3):
        page = browser.get(order).text
        if "/execute" in page:
            break
        method = "totp" if f"{order}/proof/totp" in page else "confidential_code"
        clock.advance(timedelta(seconds=30))
        code = totp_code_at(enrolled.credential, clock.now()) if method == "totp" else CODE
        proof = browser.get(f"{order}/proof/{method}")
        answer = browser.post(
            f"{order}/proof/{method}",
            data={"code": code, "csrf_token": token(proof.text)},
            follow_redirects=False,
        )
        assert answer.status_code == 303, answer.text
    done = browser.post(f"{order}/execute", data={"csrf_token": token(browser.get(order).text)})
    assert "posted to the user by letter" in done.text

    (letter,) = letters.iterdir()
    found = CODE_IN.search(letter.read_text())
    assert found is not None
    assert found.group(1) not in done.text
    new = who(CLIENT, "04")
    assert box.codes.change_code(CLIENT.value, "04", found.group(1), CODE).changed
    site.coded.add(new)
    collaborator = site.browser(new)
    seen = set(listed(collaborator.get("/documents").text))
    assert seen == {payslip_c1, tax_c1}
    assert payslip_c2 not in seen
    assert other_tax_c1 not in seen
    assert collaborator.get(f"/documents/{other_tax_c1}").status_code == 404
    assert re.search("Pending acceptance|Added", browser.get("/admin/users").text)
    edit = browser.get("/admin/users/04").text
    assert 'value="chosen" checked' in edit
    assert 'value="partial" checked' in edit
    assert 'name="themes" value="payroll" checked' in edit
    assert f'name="document_ids" value="{tax_c1}" checked' in edit
    assert f'name="document_ids" value="{other_tax_c1}">' in edit
