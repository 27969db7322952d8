"""Assertions for downstream services: issue and verify a signed JWT with injected keys
(:mod:`.assertions`), the claims it carries (:mod:`.claims`) and what a downstream API
requires of it (:mod:`.requirement`). Committing the single use of an assertion is the
shell's (:mod:`securebox_auth.shell.token_verifier`).
"""
