"""The generated reference pages against the code they describe (fast: no mkdocs needed).

The policy reference must hold every key the loader reads, with the model's defaults, and
the prose of docs/policy.md must document exactly those keys; the error codes page must
hold every code of the hierarchy; the HTTP API pages every operation of the OpenAPI
document; the link rewriting must keep GitHub's links working in the site.
"""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest
from docsite import error_codes, openapi_pages, policy_keys, server_settings, site

import securebox_auth
import securebox_server
from securebox_auth.errors import PolicyError, SecureboxError
from securebox_auth.policy.loader import from_toml
from securebox_auth.policy.model import PSD2_DEFAULT
from securebox_server.web.problem_codes import SERVER_CODES

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
GETTERS = {"integer", "text", "seconds", "boolean", "names", "choice", "table", "_get"}


def _names_read_by_the_loader() -> set[str]:
    """Every key name the loader and the factor sections read, from their source."""
    names: set[str] = set()
    for module in ("loader.py", "factor_rules.py"):
        tree = ast.parse((ROOT / "src/securebox_auth/policy" / module).read_text())
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in GETTERS
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                names.add(node.args[0].value)
    names.add("access_managers_manage_rights_and_codes")  # read through a local variable
    return names


def test_every_key_the_loader_reads_is_in_the_reference() -> None:
    keys = policy_keys.model_keys()
    tables = {key.table.split(".")[0] for key in keys if key.table}
    documented = {key.name for key in keys} | tables | {"channel"}
    assert _names_read_by_the_loader() - documented == set()


def test_every_key_of_the_reference_is_read_and_checked_by_the_loader() -> None:
    for key in policy_keys.model_keys():
        if key.table.endswith(policy_keys.NAME) or key.table == "":
            continue
        section, *_ = key.table.split(".")
        misspelt = f"[{section}]\n{key.name}x = 1\n"
        with pytest.raises(PolicyError) as raised:
            from_toml(misspelt)
        assert raised.value.path == f"{key.table}.{key.name}x", key.path


def test_the_defaults_are_those_of_psd2_default() -> None:
    keys = {key.path: key.default for key in policy_keys.model_keys()}
    assert keys["lockout.max_failures"] == PSD2_DEFAULT.lockout.max_failures
    assert keys["session.idle_timeout"] == PSD2_DEFAULT.session.idle_timeout.total_seconds()
    assert keys["renewal.channel.NAME.every_days"] == PSD2_DEFAULT.renewal.every_days
    assert keys["operation.NAME.linking"] == "none"


def test_the_prose_documents_exactly_the_model_keys() -> None:
    prose = policy_keys.parse_prose((DOCS / "policy.md").read_text(encoding="utf-8"))
    assert policy_keys.check(policy_keys.model_keys(), prose) == []


def test_a_key_missing_from_the_prose_or_a_wrong_default_is_reported() -> None:
    prose = policy_keys.parse_prose((DOCS / "policy.md").read_text(encoding="utf-8"))
    without = tuple(row for row in prose if row.name != "max_failures")
    wrong = tuple(
        dataclasses.replace(row, default="`6`") if row.name == "max_failures" else row
        for row in prose
    )
    extra = (*prose, policy_keys.ProseRow("lockout", "forgiveness", "`1`", "", ""))
    keys = policy_keys.model_keys()
    assert policy_keys.check(keys, without) == [
        "lockout.max_failures: in the model, not in docs/policy.md's TOML reference"
    ]
    assert policy_keys.check(keys, wrong) == [
        "lockout.max_failures: docs/policy.md says the default is `6`, the model writes 5"
    ]
    assert policy_keys.check(keys, extra) == [
        "lockout.forgiveness: in docs/policy.md, not in the model"
    ]


def test_the_policy_page_has_a_row_per_key_with_its_path() -> None:
    text = site.policy_key_page(DOCS)
    for key in policy_keys.model_keys():
        assert f'<span id="{key.anchor}"></span>`{key.name}` | `{key.path}` |' in text


def _every_class(root: type[SecureboxError]) -> set[type[SecureboxError]]:
    found = {root}
    for sub in root.__subclasses__():
        found |= _every_class(sub)
    return found


def test_every_error_code_is_on_the_page() -> None:
    error_codes.import_all([securebox_auth, securebox_server])
    codes = error_codes.collect()
    text = error_codes.page(codes)
    source = {cls for cls in _every_class(SecureboxError) if not cls.__module__.startswith("tests")}
    assert {cls.code for cls in source} == {error.code for error in codes}
    for cls in source:
        assert f"`{cls.__module__}.{cls.__qualname__}`" in text
    for error in codes:
        assert f"### `{error.code}`" in text
    for code in SERVER_CODES:  # the server's own answers, with no exception behind them
        assert f"`{code}`" in text.partition("## The server's own codes")[2]


def test_every_operation_of_the_openapi_document_is_on_a_page() -> None:
    document = openapi_pages.export_document()
    pages = openapi_pages.pages(document)
    text = "\n".join(pages.values())
    operations = [(method, path) for path, item in document["paths"].items() for method in item]
    assert len(operations) > 40
    for method, path in operations:
        assert f"`{method.upper()} {path}`" in text
    for name in document["components"]["schemas"]:
        assert f"## {name} {{#" in pages["http-api/schemas.md"]


def test_links_to_the_readme_and_changelog_are_pointed_at_their_pages() -> None:
    page = "See [the README](../README.md#quick-start), [x](../../CHANGELOG.md), [y](policy.md)."
    assert site.rewrite_links(page, "index.md", DOCS) == (
        "See [the README](readme.md#quick-start), [x](../../CHANGELOG.md), [y](policy.md)."
    )
    assert site.rewrite_links("[c](../../CHANGELOG.md)", "factors/cap.md", DOCS) == (
        "[c](../changelog.md)"
    )


def test_every_server_setting_is_on_its_page_with_its_variable() -> None:
    from securebox_server import settings as module  # noqa: PLC0415

    found = server_settings.collect()
    assert {setting.name for setting in found} == set(module._KEYS)
    text = server_settings.page(found)
    for setting in found:
        assert setting.meaning, f"{setting.name}: no #: comment above the field"
        environment = setting.environment
        assert f"`{setting.name}`" in text
        assert environment in text
    # the variable the page names is the one the loader reads
    read = module.load_settings({"SECUREBOX_CLOCK_MARK_MS": "250", "SECUREBOX_DEMO": "true"})
    assert read.clock_mark_ms == 250
    assert read.demo
