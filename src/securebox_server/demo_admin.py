"""``securebox demo --check``: the README's demo of the administration, over HTTP against
the running demo, as a user would do it.

User 01 (an administrator) adds a collaborator with rights on one company and one theme
and approves the change with the demo certificate (the check signs the challenge with the
demo key, ``demo-01.key``, as the local signing agent would after the token's PIN); the
one-time code goes to ``/demo/outbox``, never to the administrator's page; the collaborator
logs in through the login pages (the code, its forced change, a code by SMS to the mobile
the administrator registered) and lists exactly the documents of that company and theme,
while another company's document answers 404.
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path
from typing import Final

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from securebox_server.demo_box_plan import TRANSPORT
from securebox_server.demo_data import CLIENT, DEMO_USERS

__all__ = ["NEW_USER", "check_readme_admin"]

#: the collaborator the check adds (the demo seeds 01 to 05)
NEW_USER: Final = "06"
MOBILE: Final = "+33639980099"  # a French number reserved for fiction by ARCEP
NEW_CODE: Final = "80461937"
_TOKEN = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')
_ROW = re.compile(r'<a href="/documents/([A-Za-z0-9_.:-]+)">')
_MORE = re.compile(r'<a href="(/documents\?[^"]+)" rel="next">')
_THEMES = re.compile(r'name="themes" value="([a-z0-9_-]+)"')
_OUTBOX_ROW = re.compile(r"<tr><td>[^<]*</td><td>([^<]*)</td><td>([^<]*)</td></tr>")


class Failed(Exception):
    """A step of the demo did not give what the README says."""


def _csrf(page: httpx.Response) -> str:
    found = _TOKEN.search(page.text)
    if found is None:
        raise Failed(f"no form on {page.url.path} ({page.status_code})")
    return found.group(1)


def _login(http: httpx.Client, user: str, code: str) -> httpx.Response:
    page = http.get("/login")
    page = http.post("/login", data={"client_id": CLIENT, "csrf_token": _csrf(page)})
    data = {"client_id": CLIENT, "user_number": user, "csrf_token": _csrf(page)}
    page = http.post("/login/user", data=data)
    return http.post("/login/code", data={"code": code, "csrf_token": _csrf(page)})


def _listed(http: httpx.Client, query: str) -> set[str]:
    """Every document a search lists, following its "next page" links."""
    found: set[str] = set()
    url: str | None = f"/documents?{query}"
    while url is not None:
        page = http.get(url).text
        found |= set(_ROW.findall(page))
        more = _MORE.search(page)
        url = html.unescape(more.group(1)) if more else None
    return found


def _received(http: httpx.Client, pattern: str) -> str:
    """The first group of ``pattern`` in the newest message to the new user's mobile that
    /demo/outbox shows (newest first)."""
    rows = _OUTBOX_ROW.findall(http.get("/demo/outbox").text)
    for to, body in rows:
        found = re.search(pattern, html.unescape(body))
        if html.unescape(to) == MOBILE and found is not None:
            return found.group(1)
    raise Failed(f"/demo/outbox shows no such message to {MOBILE}")


def _one_time_code(http: httpx.Client) -> str:
    return _received(http, r"one-time confidential code: ([0-9]+)")


def _approve(http: httpx.Client, order: str, key: ec.EllipticCurvePrivateKey) -> None:
    """The step-up of ``order`` with the certificate (what the agent signs) or 01's code."""
    for _ in range(3):
        if f"{order}/execute" in http.get(order).text:
            return
        page = http.get(f"{order}/proof/certificate")
        found = re.search(r'data-challenge="([^"]*)"', page.text)
        ceremony = re.search(r'name="ceremony" value="([^"]*)"', page.text)
        if page.status_code != 200 or found is None or ceremony is None:
            page = http.get(f"{order}/proof/confidential_code")
            data = {"code": DEMO_USERS[0].code, "csrf_token": _csrf(page)}
            http.post(f"{order}/proof/confidential_code", data=data)
            continue
        challenge = html.unescape(found.group(1))
        payload = base64.urlsafe_b64decode(challenge + "=" * (-len(challenge) % 4))
        signature = key.sign(payload, ec.ECDSA(hashes.SHA256()))
        signed = base64.urlsafe_b64encode(signature).decode().rstrip("=")
        data = {"ceremony": ceremony.group(1), "signature": signed, "csrf_token": _csrf(page)}
        http.post(f"{order}/proof/certificate", data=data)
    raise Failed("the step-up of the new user was not approved")


def _add_collaborator(admin: httpx.Client, home: Path) -> str:
    """01 adds the collaborator; the theme they get (one with documents of the company)."""
    form = admin.get("/admin/users/new")
    theme = next(
        (
            t
            for t in _THEMES.findall(form.text)
            if _listed(admin, f"company={TRANSPORT.value}&theme={t}")
        ),
        None,
    )
    if theme is None:
        raise Failed("the new user's form offers no theme with documents")
    data = {
        "civility": "mrs",
        "last_name": "Martin",
        "first_name": "Claire",
        "mobile": MOBILE,
        "email": "claire.martin@transports-martin.example",
        "function": "Payroll",
        "user_number": NEW_USER,
        "role": "user",
        "companies": "chosen",
        "chosen": [TRANSPORT.value],
        "documents": "partial",
        "themes": [theme],
        "operations": ["view", "download"],
        "channel": "sms",
        "csrf_token": _csrf(form),
    }
    order = admin.post("/admin/users/new", data=data).url.path
    if not order.startswith("/operations/"):
        raise Failed(f"adding a user did not start a step-up ({order})")
    key = serialization.load_pem_private_key((home / "demo-01.key").read_bytes(), None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise Failed("the demo key is not an EC key")
    _approve(admin, order, key)
    done = admin.post(f"{order}/execute", data={"csrf_token": _csrf(admin.get(order))})
    if "sent to the user by SMS" not in done.text:
        raise Failed(f"the new user was not added ({done.status_code})")
    if _one_time_code(admin) in done.text:
        raise Failed("the one-time code was shown to the administrator")
    return str(theme)


def _first_login(http: httpx.Client, one_time: str) -> None:
    page = _login(http, NEW_USER, one_time)
    data = {"current": one_time, "new": NEW_CODE, "confirm": NEW_CODE, "csrf_token": _csrf(page)}
    http.post("/login/change-code", data=data)
    page = http.get("/login/sms")
    target = re.search(r'name="target" value="([^"]*)"', page.text)
    if target is None:
        raise Failed("no code by SMS offered at the first login")
    sent = http.post("/login/sms/send", data={"target": target.group(1), "csrf_token": _csrf(page)})
    challenge = re.search(r'name="challenge" value="([^"]*)"', sent.text)
    if challenge is None:
        raise Failed("the login code by SMS was not sent")
    code = _received(http, r"\b([0-9]{6})\b")
    data = {"challenge": challenge.group(1), "target": target.group(1), "code": code}
    done = http.post("/login/sms", data={**data, "csrf_token": _csrf(sent)})
    if done.url.path != "/home":
        raise Failed(f"the collaborator's first login did not end at home ({done.url.path})")


def check_readme_admin(base: str, home: Path) -> str | None:
    """Run the README's administration demo against ``base``; ``None`` when it worked,
    else what went wrong."""

    def client() -> httpx.Client:
        return httpx.Client(base_url=base, timeout=30, follow_redirects=True)

    try:
        with client() as admin, client() as user:
            admin.headers["Accept-Language"] = user.headers["Accept-Language"] = "en"
            if _login(admin, "01", DEMO_USERS[0].code).url.path != "/home":
                raise Failed("user 01 did not log in")
            if 'href="/admin/users"' not in admin.get("/home").text:
                raise Failed("the home page does not link the administration")
            theme = _add_collaborator(admin, home)
            _first_login(user, _one_time_code(admin))
            expected = _listed(admin, f"company={TRANSPORT.value}&theme={theme}")
            if _listed(user, "") != expected:
                raise Failed("the collaborator does not see exactly their documents")
            other = next(iter(_listed(admin, "") - expected))
            if user.get(f"/documents/{other}").status_code != 404:
                raise Failed("another document does not answer 404")
    except (Failed, httpx.HTTPError, OSError, StopIteration) as exc:
        return str(exc) or type(exc).__name__
    return None
