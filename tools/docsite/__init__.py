"""The documentation site's generators (``mkdocs.yml`` runs them through :mod:`docsite.hooks`).

Each generator is a pure function from the code (the policy model, the exception hierarchy,
the server's OpenAPI document, the public modules) to Markdown text, so the site's reference
pages can never fall behind the code they describe:

- :mod:`docsite.policy_keys`: every TOML key of a policy file, from the policy model;
- :mod:`docsite.error_codes`: every stable error code, from the one exception hierarchy;
- :mod:`docsite.server_settings`: every setting of the reference server, from ``Settings``;
- :mod:`docsite.openapi_pages`: the HTTP API, one page per tag, from the OpenAPI document;
- :mod:`docsite.api_pages`: the Python API reference pages (mkdocstrings directives).
"""
