import asyncio, cProfile, pstats, time, io
from tests.server.conftest import open_user, identify, submit_code


async def _call(app, path, cookie):
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
             "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
             "root_path": "", "headers": [(b"host", b"testserver"), (b"cookie", cookie.encode())],
             "client": ("127.0.0.1", 5000), "server": ("testserver", 80)}
    sent = []
    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}
    async def send(m):
        sent.append(m)
    await app(scope, receive, send)
    return sent[0]["status"]


def test_profile(make_app):
    client, box, clock = make_app()
    open_user(box)
    identify(client)
    r = submit_code(client)
    assert r.status_code == 303
    assert client.get("/home").status_code == 200
    cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    app = client.app
    sid = [v for k, v in client.cookies.items() if "session" in k][0] if any("session" in k for k in client.cookies) else None
    print("cookies", list(client.cookies.keys()))
    async def loop(path, n):
        for _ in range(n):
            assert await _call(app, path, cookie) == 200
    for path in ("/healthz", "/home", "/healthz", "/home"):
        n = 1000
        t = time.process_time()
        asyncio.run(loop(path, n))
        print(path, round((time.process_time() - t) / n * 1e3, 3), "ms")
    from securebox_server.web.context import server_of
    name = box and [k for k in client.cookies.keys()]
    for k, v in client.cookies.items():
        try:
            box.touch(v); sid = v; break
        except Exception:
            pass
    for label, fn in (("touch", lambda: box.touch(sid)), ("sessions_of", lambda: box.sessions_of(box.touch(sid).principal))):
        t = time.process_time()
        for _ in range(1000):
            fn()
        print(label, round((time.process_time() - t), 3), "ms")
    pr = cProfile.Profile()
    import threading
    threading.setprofile(lambda *a: None)
    pr.enable()
    asyncio.run(loop("/home", 300))
    pr.disable()
    s = io.StringIO()
    pstats.Stats(pr, stream=s).sort_stats("cumulative").print_stats(80)
    with open("/tmp/hp_prof/home.txt", "w") as f: f.write(s.getvalue())
    s = io.StringIO()
    pstats.Stats(pr, stream=s).sort_stats("tottime").print_stats(50)
    with open("/tmp/hp_prof/home_tot.txt", "w") as f: f.write(s.getvalue())
