"""Helpers for testing portals built on securebox: never use them in production code.

:class:`~securebox_auth.testing.authenticator.SoftAuthenticator` is a WebAuthn authenticator
in software (keys from ``cryptography``) that answers ceremonies the way a browser's
``credential.toJSON()`` does, and can be told to misbehave (another origin, no UV, a counter
that goes back) to test the refusals.
"""

from securebox_auth.testing.authenticator import SoftAuthenticator, tamper

__all__ = ["SoftAuthenticator", "tamper"]
