"""securebox_server: the reference "digital box" built on :mod:`securebox_auth`.

A thin FastAPI application: routes parse input, call the library's flows and render the
result; no authentication rule lives here. Install with ``pip install "securebox[server]"``.
"""
