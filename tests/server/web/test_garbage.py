"""No route answers 5xx to garbage: random forms (with and without a valid CSRF token)
posted to every POST route, in every login state."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from securebox_server.web.routing import walk
from tests.server.conftest import AppMaker, identify, open_user, token

FIELDS = st.sampled_from(
    [
        "client_id",
        "user_number",
        "code",
        "current",
        "new",
        "confirm",
        "remember",
        "lang",
        "on",
        "back",
        "x",
    ]
)
VALUES = st.text(max_size=80) | st.sampled_from(["123456789", "01", "47120938", "", "0" * 70])


def test_no_route_answers_5xx(make_app: AppMaker) -> None:
    client, box, _ = make_app()
    open_user(box)
    routes = sorted(
        {r.path for r in walk(client.app.routes) if "POST" in (getattr(r, "methods", None) or ())}  # type: ignore[attr-defined]
    )

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        path=st.sampled_from(routes),
        form=st.dictionaries(FIELDS, VALUES, max_size=5),
        with_token=st.booleans(),
        in_flow=st.booleans(),
    )
    def post(path: str, form: dict[str, str], with_token: bool, in_flow: bool) -> None:
        client.cookies.clear()
        if in_flow:
            identify(client)
        if with_token:
            form = {**form, "csrf_token": token(client.get("/login/forgotten").text)}
        answer = client.post(path, data=form, follow_redirects=False)
        assert answer.status_code < 500, (path, form, answer.text[:300])

    post()
