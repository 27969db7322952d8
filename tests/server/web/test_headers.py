"""Security headers on every answer; cookie flags."""

from __future__ import annotations

from tests.server.conftest import AppMaker, identify, open_user, submit_code


def test_security_headers(make_app: AppMaker) -> None:
    client, _, _ = make_app()
    page = client.get("/login")
    h = page.headers
    assert "unsafe-inline" not in h["content-security-policy"]
    assert "frame-ancestors 'none'" in h["content-security-policy"]
    assert h["x-content-type-options"] == "nosniff"
    assert h["referrer-policy"] == "same-origin"
    assert h["cache-control"] == "no-store"
    assert "strict-transport-security" not in h
    assert len(h["x-request-id"]) >= 8
    assert "<script" not in page.text
    assert "style=" not in page.text


def test_hsts_and_host_cookies_under_https(make_app: AppMaker) -> None:
    client, box, _ = make_app(public_url="https://testserver")
    open_user(box)
    page = client.get("/login")
    assert page.headers["strict-transport-security"].startswith("max-age=")
    assert "__Host-sb-pre=" in page.headers["set-cookie"]
    identify(client)
    done = submit_code(client)
    cookie = next(c for c in done.headers.get_list("set-cookie") if "__Host-sb-session=" in c)
    lowered = cookie.lower()
    for flag in ("httponly", "secure", "path=/", "samesite=strict"):
        assert flag in lowered
    assert "domain" not in lowered


def test_plain_http_demo_uses_the_fallback_names(make_app: AppMaker) -> None:
    client, box, _ = make_app()
    open_user(box)
    identify(client)
    done = submit_code(client)
    cookie = next(c for c in done.headers.get_list("set-cookie") if c.startswith("sb-session="))
    assert "httponly" in cookie.lower()
    assert "samesite=strict" in cookie.lower()
    assert "__Host-" not in cookie


def test_static_files_are_local_and_cacheable(make_app: AppMaker) -> None:
    client, _, _ = make_app()
    css = client.get("/static/site.css")
    assert css.status_code == 200
    assert "no-store" not in css.headers.get("cache-control", "")
