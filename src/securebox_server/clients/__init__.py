"""The box's API clients: senders and receivers, OAuth 2.0 client credentials with
``private_key_jwt`` (RFC 7523) or mutual TLS (RFC 8705), opaque access tokens with scopes,
and the :data:`~.caller.ApiCaller` dependency of the machine APIs (ADR 0032)."""
