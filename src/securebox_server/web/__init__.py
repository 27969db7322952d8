"""The web layer shared by every page: context, cookies, CSRF, routing, headers, errors,
logs, templates, health and metrics."""
