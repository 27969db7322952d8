"""The layout rules of ADRs 0019 and 0020, read from the source with :mod:`ast` (nothing is
imported).

1. The pure core imports nothing from the imperative shell: no store, no service, no card,
   no command line, no demo. Every module is classified (core, shell, or an old import path
   kept as a re-export); a new module in a core folder is core, and a new top-level module
   must be classified here before the test passes.
2. No module is over :data:`MAX_LINES` lines, but for the short allow-list below.
3. The entitlement shell does not load the factor codecs (nor, through them, every factor).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Final, Literal

PACKAGE: Final = "securebox_auth"
SOURCE: Final = Path(__file__).resolve().parents[1] / "src" / PACKAGE

Layer = Literal["core", "shell", "shim", "root"]

#: Folders whose every module is pure core: verifiers, policy, flows, rules, EMV, keys and
#: hashing behind protocols, lockout, assertions (ADR 0020).
CORE_FOLDERS: Final = frozenset(
    {"factors", "emv", "policy", "flows", "entitlements", "crypto", "lockout", "tokens"}
)
#: Top-level modules of the pure core: values shared by every folder.
CORE_MODULES: Final = frozenset(
    {
        "audit",  # events, seal, verify_chain (pure)
        "audit_keys",  # the audit keyring by id (pure)
        "clock",  # the Clock protocol; the core only takes ``now``
        "errors",
        "identity",
    }
)
#: Modules in a core folder that are edges, not core.
EDGES_IN_CORE_FOLDERS: Final = frozenset(
    {"crypto.calibrate"}  # measures argon2id on this machine (reads a timer)
)
#: Folders of the shell: services, stores, card I/O, command line, test helpers.
SHELL_FOLDERS: Final = frozenset({"shell", "stores", "cards", "cli", "testing"})
#: Top-level modules of the shell: none (ADR 0020: every shell module is in a folder).
SHELL_MODULES: Final[frozenset[str]] = frozenset()
#: Old import paths in a core folder, kept as thin re-exports of the shell (ADR 0019):
#: they may import the shell, and may do nothing else.
SHIMS: Final = frozenset({"entitlements.service", "entitlements.shell"})

#: The longest a module may be.
MAX_LINES: Final = 400
#: Modules allowed over MAX_LINES, each with the reason (the goal is an empty mapping).
OVERSIZED: Final[Mapping[str, str]] = {}


def module_name(path: Path, root: Path = SOURCE) -> str:
    """``securebox_auth.a.b`` for ``root/a/b.py`` (a package is its ``__init__``)."""
    parts = [PACKAGE, *path.relative_to(root).with_suffix("").parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def sources(root: Path = SOURCE) -> dict[str, str]:
    return {module_name(path, root): path.read_text() for path in sorted(root.rglob("*.py"))}


def layer(module: str) -> Layer | None:
    """The layer of a module, ``None`` when it is not classified."""
    if module == PACKAGE:
        return "root"
    inner = module.removeprefix(PACKAGE + ".")
    top = inner.split(".")[0]
    if inner in SHIMS:
        return "shim"
    if inner in EDGES_IN_CORE_FOLDERS:
        return "shell"
    if top in CORE_FOLDERS or inner in CORE_MODULES:
        return "core"
    if top in SHELL_FOLDERS or inner in SHELL_MODULES:
        return "shell"
    return None


def imported(module: str, source: str, known: frozenset[str]) -> Iterator[str]:
    """Every ``securebox_auth`` module ``source`` imports, anywhere in it (functions and
    ``TYPE_CHECKING`` blocks too: an arrow in the architecture either way)."""
    is_package = module not in known or f"{module}.__init__" in known
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name.startswith(PACKAGE))
        elif isinstance(node, ast.ImportFrom):
            target = node.module or ""
            if node.level:
                base = module.split(".")
                drop = node.level - 1 if is_package else node.level
                base = base[: len(base) - drop]
                target = ".".join([*base, *([target] if target else [])])
            if not target.startswith(PACKAGE):
                continue
            yield target
            for alias in node.names:
                if f"{target}.{alias.name}" in known:
                    yield f"{target}.{alias.name}"


def violations(modules: Mapping[str, str], packages: frozenset[str] = frozenset()) -> list[str]:
    """What breaks the import rule: an unclassified module, a core module importing
    anything that is not core, a shim doing more than re-exporting."""
    known = frozenset(modules)
    found: list[str] = []
    for module, source in modules.items():
        kind = layer(module)
        if kind is None:
            found.append(f"{module}: not classified (tests/test_layout.py, ADR 0020)")
            continue
        if kind == "shim":
            found.extend(f"{module}: {problem}" for problem in shim_problems(source))
            continue
        if kind != "core":
            continue
        for target in imported(module, source, known | packages):
            if target != PACKAGE and layer(target) != "core":
                found.append(f"{module} imports {target} ({layer(target) or 'unclassified'})")
    return found


def shim_problems(source: str) -> list[str]:
    """A re-export is a docstring, imports and ``__all__``, nothing else."""
    problems = []
    for statement in ast.parse(source).body:
        if isinstance(statement, ast.Import | ast.ImportFrom):
            continue
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
            continue
        if isinstance(statement, ast.Assign) and [
            getattr(target, "id", None) for target in statement.targets
        ] == ["__all__"]:
            continue
        problems.append(f"line {statement.lineno}: a re-export holds only imports and __all__")
    return problems


def test_the_pure_core_imports_nothing_from_the_shell() -> None:
    assert violations(sources()) == []


def test_a_core_module_importing_the_shell_is_found() -> None:
    bad = {
        "securebox_auth.factors.newfactor": "from securebox_auth.stores import memory\n",
        "securebox_auth.policy.newrule": (
            "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from securebox_auth.shell.retry import Backoff\n"
        ),
        "securebox_auth.flows.login": "def f():\n    from ..shell.code import LoginResult\n",
        "securebox_auth.tokens.assertions": "import securebox_auth.cards.reader\n",
        "securebox_auth.entitlements.check": "from securebox_auth.cli import policy\n",
        "securebox_auth.crypto.hashing": "from securebox_auth.crypto import calibrate\n",
        "securebox_auth.identity": "from securebox_auth.errors import MalformedInput\n",
    }
    packages = frozenset(
        {
            "securebox_auth.cli.policy",
            "securebox_auth.crypto.calibrate",
            "securebox_auth.stores.memory",
        }
    )
    assert violations(bad, packages) == [
        "securebox_auth.factors.newfactor imports securebox_auth.stores (shell)",
        "securebox_auth.factors.newfactor imports securebox_auth.stores.memory (shell)",
        "securebox_auth.policy.newrule imports securebox_auth.shell.retry (shell)",
        "securebox_auth.flows.login imports securebox_auth.shell.code (shell)",
        "securebox_auth.tokens.assertions imports securebox_auth.cards.reader (shell)",
        "securebox_auth.entitlements.check imports securebox_auth.cli (shell)",
        "securebox_auth.entitlements.check imports securebox_auth.cli.policy (shell)",
        "securebox_auth.crypto.hashing imports securebox_auth.crypto.calibrate (shell)",
    ]


def test_a_new_top_level_module_must_be_classified() -> None:
    assert violations({"securebox_auth.helpers": ""}) == [
        "securebox_auth.helpers: not classified (tests/test_layout.py, ADR 0020)"
    ]


def test_an_old_import_path_only_re_exports() -> None:
    shim = '"""Old path."""\nfrom securebox_auth.shell.entitlements import X\n__all__ = ["X"]\n'
    assert violations({"securebox_auth.entitlements.service": shim}) == []
    grown = shim + "def helper() -> None: ...\n"
    assert violations({"securebox_auth.entitlements.service": grown}) == [
        "securebox_auth.entitlements.service: line 4: a re-export holds only imports and __all__"
    ]


def closure(start: str, modules: Mapping[str, str]) -> set[str]:
    """The modules ``start`` loads, following imports statically (the package root, which
    imports the whole public API, is not followed)."""
    known = frozenset(modules)
    seen: set[str] = set()
    todo = [start]
    while todo:
        module = todo.pop()
        if module in seen or module not in modules:
            continue
        seen.add(module)
        parts = module.split(".")
        parents = [".".join(parts[:i]) for i in range(2, len(parts))]
        todo.extend(p for p in parents if p != PACKAGE)
        todo.extend(t for t in imported(module, modules[module], known) if t != PACKAGE)
    return seen


def test_the_entitlement_shell_loads_no_factor_codec() -> None:
    """Naming a factor kind must not load every factor (fido2, X.509, QR codes): the
    entitlement service asks the store for raw documents of a kind."""
    loaded = closure("securebox_auth.shell.entitlements", sources())
    assert "securebox_auth.stores.factor_kinds" in loaded
    heavy = {"passkeys", "passkey_model", "certificate", "cert_enrol", "oob", "cap_card"}
    assert "securebox_auth.stores.factor_codecs" not in loaded
    assert not loaded & {f"securebox_auth.factors.{name}" for name in heavy}


def test_no_module_is_over_the_limit() -> None:
    lengths = {name: len(text.splitlines()) for name, text in sources().items()}
    over = {name: count for name, count in lengths.items() if count > MAX_LINES}
    assert over.keys() <= OVERSIZED.keys(), {n: c for n, c in over.items() if n not in OVERSIZED}
    # An entry that is no longer needed is removed, so the list only shrinks.
    assert not OVERSIZED.keys() - over.keys(), "remove the modules now under the limit"
