"""The server's own tables (rate limits, ...), with their own Alembic history.

They live in the same database as the library's store but are migrated separately: the
server's version table is ``securebox_server_version``, the library's is Alembic's default,
so neither history sees the other's tables (see ``docs/adr/0026-rate-limits.md``).
"""
