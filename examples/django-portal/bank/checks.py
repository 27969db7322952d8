"""A Django system check (``manage.py check``, run before the server starts): every
operation a view protects with ``@step_up_required`` names an operation of the securebox
policy, through ``settings.SECUREBOX["OPERATIONS"]``; and the policy file loads."""

from __future__ import annotations

from importlib import import_module
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register
from securebox_auth import SecureboxError, load_policy

#: The portal names given to ``@step_up_required`` (filled as views are imported).
PROTECTED: set[str] = set()


@register()
def securebox_operations(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    import_module(settings.ROOT_URLCONF)  # imports the views, which fill PROTECTED
    config = getattr(settings, "SECUREBOX", {})
    try:
        policy = load_policy(config["POLICY"])
    except (KeyError, TypeError, OSError, SecureboxError) as exc:
        return [Error(f"settings.SECUREBOX['POLICY'] does not load: {exc}", id="bank.E001")]
    names = config.get("OPERATIONS", {})
    problems: list[CheckMessage] = []
    for name in sorted(PROTECTED | set(names)):
        operation = names.get(name)
        if not isinstance(operation, str):
            problems.append(
                Error(f"SECUREBOX['OPERATIONS'] does not name {name!r}", id="bank.E002")
            )
        elif policy.operation(operation) is None:
            problems.append(
                Error(f"the policy has no operation {operation!r} ({name!r})", id="bank.E003")
            )
    return problems
