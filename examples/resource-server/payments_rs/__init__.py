"""A payments API (a resource server) that trusts the securebox reference server's signed
assertions: see README.md."""

from payments_rs.app import create_app
from payments_rs.settings import Settings

__all__ = ["Settings", "create_app"]
