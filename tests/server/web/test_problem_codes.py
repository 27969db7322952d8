"""Every code the server answers with is registered: an exception's code or one of
:data:`~securebox_server.web.problem_codes.SERVER_CODES` (documented on the error codes
page). At run time an unregistered code warns (an error under pytest); statically, every
literal code the server's source passes to an answer is registered too."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import securebox_server
from securebox_auth.errors import SecureboxError
from securebox_server.web.problem_codes import (
    SERVER_CODES,
    UnregisteredProblemCode,
    _exception_codes,
    check_code,
)
from tests.server.conftest import AppMaker

SOURCE = Path(securebox_server.__file__).resolve().parent
#: The functions that answer with a code: (name, index of the code among the arguments).
ANSWERS = {"problem": 1, "api_problem": 2, "respond": 2}


def _literal_codes() -> dict[str, str]:
    found: dict[str, str] = {}
    for path in SOURCE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name not in ANSWERS:
                continue
            index = ANSWERS[name] - (1 if name == "problem" else 0)
            values = [k.value for k in node.keywords if k.arg == "code"]
            if len(node.args) > index:
                values.append(node.args[index])
            for value in values:
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    found[value.value] = f"{path.relative_to(SOURCE)}:{node.lineno}"
    return found


def test_every_literal_code_of_an_answer_is_registered() -> None:
    for info in pkgutil.walk_packages(securebox_server.__path__, "securebox_server."):
        importlib.import_module(info.name)  # every exception class defined
    codes = _literal_codes()
    assert {"not_found", "operation_denied", "code_rejected"} <= set(codes)  # the scan works
    known = _exception_codes() | set(SERVER_CODES)
    assert {code: where for code, where in codes.items() if code not in known} == {}


def test_a_server_code_is_not_also_an_exception_code() -> None:
    assert set(SERVER_CODES) & _exception_codes() == set()
    assert all(400 <= known.status < 600 for known in SERVER_CODES.values())


def test_an_unregistered_code_warns_and_a_registered_one_does_not() -> None:
    with pytest.warns(UnregisteredProblemCode, match="no_such_code"):
        check_code("no_such_code")
    check_code("login_denied")
    check_code(SecureboxError.code)


def test_an_answer_with_an_unregistered_code_fails_under_the_tests(make_app: AppMaker) -> None:
    from securebox_server.web.errors import problem  # noqa: PLC0415

    client, _, _ = make_app()
    with pytest.warns(UnregisteredProblemCode):
        problem(400, "made_up_here")
    assert client.get("/api/v1/no-such-route").json()["code"] == "not_found"
