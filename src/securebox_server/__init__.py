"""securebox_server: the reference document server (a "digital box"), built on securebox_auth.

The server arrives with its own issue; until then this package is intentionally empty.
"""
