"""The rate-limit seam: identifier and code submissions count per address and account; a
limit over shows "try again" with Retry-After, as a page or a problem document."""

from __future__ import annotations

from securebox_server.throttle import RateLimited
from tests.server.conftest import AppMaker, identify, open_user, submit_code


class Recording:
    """Counts hits; refuses the ``refuse``-th hit of ``login.code``."""

    def __init__(self, refuse: int = 0) -> None:
        self.hits: list[tuple[str, str]] = []
        self.refuse = refuse

    def hit(self, name: str, key: str) -> None:
        self.hits.append((name, key))
        codes = [h for h in self.hits if h[0] == "login.code"]
        if self.refuse and len(codes) >= self.refuse:
            raise RateLimited(retry_after=90)


def test_submissions_count_per_address_and_account(make_app: AppMaker) -> None:
    limits = Recording()
    client, box, _ = make_app(limits=limits)
    open_user(box)
    identify(client)
    submit_code(client, "11111111")
    assert ("login.identify", "ip:testclient") in limits.hits
    assert any(n == "login.identify" and k.startswith("account:") for n, k in limits.hits)
    assert ("login.code", "ip:testclient") in limits.hits
    assert sum(1 for n, k in limits.hits if n == "login.code" and k.startswith("account:")) == 1


def test_over_the_limit_is_a_429_with_retry_after(make_app: AppMaker) -> None:
    client, box, _ = make_app(limits=Recording(refuse=1))
    open_user(box)
    identify(client)
    refused = submit_code(client)
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "90"
