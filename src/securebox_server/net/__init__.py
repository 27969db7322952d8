"""Network facts about a request (:mod:`.client_address`: the client's address, behind
trusted proxies or not) and the HTTP parser the server runs (:mod:`.http_parser`).

Nothing is imported here: ``securebox_server.serving`` imports :mod:`.http_parser` in the
supervisor and in each worker before the worker answers uvicorn's first health check, and
:mod:`.client_address` would bring the whole of ``securebox_auth`` with it.
"""
