"""Developer sessions. Each runs a plain command that also works without nox:

nox -s tests      python3 -m pytest
nox -s lint       ruff check . && ruff format --check .
nox -s typecheck  mypy            (mypy --strict on src, tests, benchmarks, noxfile)
nox -s docs       python3 tools/check_docs.py && mkdocs build --strict
                  && python3 -m pytest -m docsite tests/docs
                  (after pip install -e ".[server]" --group docs)
nox -s bench      python3 benchmarks/run.py
nox -s fuzz       SECUREBOX_FUZZ_SCALE=50 python3 -m pytest -m fuzz  (the parsers, 50x deeper)
nox -s atheris    python3 fuzz/parsers.py TARGET -max_total_time=60      (coverage-guided)
nox -s machines   the hypothesis state machines across paths, deeper than the default run:
                  lockout (300 examples), one-time values (1,000), reading the box (200),
                  ending sessions (1,000)
nox -s box_faults SECUREBOX_BOX_FAULT_LOOPS=20 python3 -m pytest tests/server/box/e2e (kill -9)
nox -s security   python3 -m pytest tests/server/security, then the fuzz, kill -9, PostgreSQL
                  restart, crawl, timing and atheris pieces in short runs (docs/security.md;
                  ``-- 20`` for 20 loops)
nox -s schemathesis  SECUREBOX_API_EXAMPLES=200 SECUREBOX_STATEFUL_EXAMPLES=300
                  python3 -m pytest -m slow tests/server/api  (the deep API runs)
nox -s load       python3 -m loadtest --seconds 120  (the server under load, 2 workers, PostgreSQL
                  and SQLite; Markdown report in .cache/load/report.md; ``-- 300`` for 300 s)
nox -s examples   for each examples/NAME: pip install -e examples/NAME[test], then
                  python3 -m pytest inside it (portals that are not ours, issue 20)
nox -s scale      python3 -m pytest -m scale tests/server/scale, then tools/scale_cluster.py
                  (3 rounds of 60 s, a different host killed in each; ``-- 10`` for 10)
nox -s browser    npm install --prefix .cache/axe axe-core@4 &&
                  SECUREBOX_SCREENSHOTS=docs/screenshots python3 -m pytest -m browser tests/browser
"""

from __future__ import annotations

from pathlib import Path

import nox

#: the parsers fuzz/parsers.py drives (also .ci/run)
ATHERIS_TARGETS = (
    "certificate",
    "crl",
    "policy",
    "scenario",
    "assertion",
    "assertion-fido2",
    "registration",
    "token",
    "upload",
    "tlv",
    "apdu",
    "cap-reader",
    "piv",
    "cap-code",
    "client-assertion",
    "jwks",
    "multipart",
)

nox.options.sessions = ["tests", "lint", "typecheck", "docs"]
nox.options.error_on_external_run = True
nox.options.reuse_existing_virtualenvs = True


def _install_dev(session: nox.Session) -> None:
    """The package and its ``dev`` dependency group (PEP 735: pip 25.1 or newer)."""
    session.install("--upgrade", "pip>=25.1")
    session.install("-e", ".[server]", "--group", "dev")


@nox.session
def tests(session: nox.Session) -> None:
    _install_dev(session)
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    _install_dev(session)
    session.run("mypy")


@nox.session
def docs(session: nox.Session) -> None:
    """The documentation (ADR 0051): every Python example of README.md and docs/ runs, the
    site builds with warnings as errors into ``.cache/site``, and the site's tests build it
    again and check its search for every factor, policy key and error code."""
    session.install("--upgrade", "pip>=25.1")
    session.install("-e", ".[server]", "--group", "docs", "--group", "dev")
    session.run("python", "tools/check_docs.py")
    session.run("mkdocs", "build", "--strict")
    session.run("python", "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "docsite",
                "tests/docs")  # fmt: skip


@nox.session
def bench(session: nox.Session) -> None:
    session.install("-e", ".[server]", "--group", "dev")
    session.run("python", "benchmarks/run.py", *session.posargs)


@nox.session
def fuzz(session: nox.Session) -> None:
    """The fuzz and differential tests, deeper than the default run (``-- 200`` for 200x)."""
    session.install("-e", ".[server]", "--group", "dev")
    scale = session.posargs[0] if session.posargs else "50"
    session.run("python", "-m", "pytest", "-m", "fuzz", "-q", env={"SECUREBOX_FUZZ_SCALE": scale})


@nox.session
def machines(session: nox.Session) -> None:
    """The state machines that check paths against each other (lockout over every entry
    path, one-time values over login, step-up and factors, reading the box by every path,
    ending sessions by every path, account-wide events against logins under way),
    with more examples than the default run (``-- 4`` multiplies them by 4)."""
    _install_dev(session)
    times = int(session.posargs[0]) if session.posargs else 1
    session.run(
        "python",
        "-m",
        "pytest",
        "-q",
        "tests/factors/test_lockout_interleavings.py",
        "tests/shell/test_one_time_across_paths.py",
        "tests/server/box/test_read_paths_machine.py",
        "tests/server/profile/test_session_paths_machine.py",
        "tests/shell/test_account_events_machine.py",
        "tests/server/jobs/test_share_machine.py",
        env={
            "SECUREBOX_LOCKOUT_EXAMPLES": str(300 * times),
            "SECUREBOX_ONE_TIME_EXAMPLES": str(1000 * times),
            "SECUREBOX_READ_PATHS_EXAMPLES": str(200 * times),
            "SECUREBOX_SESSION_PATHS_EXAMPLES": str(1000 * times),
            "SECUREBOX_ACCOUNT_EVENTS_EXAMPLES": str(3000 * times),
            "SECUREBOX_SHARE_EXAMPLES": str(1000 * times),
        },
    )


@nox.session
def atheris(session: nox.Session) -> None:
    """Coverage-guided fuzzing of each parser with atheris (``-- 300`` for 300 s each)."""
    session.install("-e", ".[server]", "--group", "fuzz")  # the upload target needs pypdf
    seconds = session.posargs[0] if session.posargs else "60"
    for target in ATHERIS_TARGETS:
        session.run("python", "fuzz/parsers.py", target, f"-max_total_time={seconds}")


@nox.session
def box_faults(session: nox.Session) -> None:
    """The digital box end to end and its kill -9 loops (server workers during ingestion,
    the jobs worker during sending), ``-- 100`` for 100 iterations of each loop (20)."""
    _install_dev(session)
    loops = session.posargs[0] if session.posargs else "20"
    session.run(
        "python",
        "-m",
        "pytest",
        "-q",
        "-s",
        "-p",
        "no:cacheprovider",
        "tests/server/box/e2e",
        env={"SECUREBOX_BOX_FAULT_LOOPS": loops},
    )


@nox.session
def load(session: nox.Session) -> None:
    """The server under load (issue 19, ADRs 0044 and 0053): ``securebox serve --workers 2``
    on a scratch PostgreSQL database and on SQLite, 1,000,000 documents behind the pages
    (the loaded databases cached in ``.cache/load`` and PostgreSQL template databases),
    every mix for its share of the run (120 s a database, ``-- 300`` for 300; further
    arguments go to ``python -m loadtest``, e.g. ``-- 120 --mix home --rate home=500``),
    the report in ``.cache/load/report.md``."""
    _install_dev(session)
    seconds, *more = session.posargs or ["120"]
    session.run("python", "-m", "loadtest", "--seconds", seconds, "--workers", "2",
                "--documents", "1000000", *more)  # fmt: skip


@nox.session
def security(session: nox.Session) -> None:
    """The security and reliability suite of issue 18 (docs/security.md): the attack tests of
    ``tests/server/security``, then a short run of each long piece: the hypothesis fuzz tests
    at 3x their depth, the kill -9 loops (3 iterations each, ``-- 20`` for 20), as many
    PostgreSQL restarts under load, a longer crawl (1000 requests a role, both languages),
    the timing comparisons and 5 seconds of atheris per parser. The long runs stay their own
    sessions (``fuzz``, ``box_faults``, ``timing``, ``atheris``)."""
    session.install("-e", ".[server]", "--group", "dev", "--group", "fuzz")
    loops = session.posargs[0] if session.posargs else "3"
    quiet = ("-q", "-p", "no:cacheprovider")
    session.run("python", "-m", "pytest", *quiet, "tests/server/security")
    session.run("python", "-m", "pytest", *quiet, "-m", "fuzz", "tests",
                env={"SECUREBOX_FUZZ_SCALE": "3"})  # fmt: skip
    session.run("python", "-m", "pytest", *quiet, "tests/server/box/e2e", "-k", "kill",
                env={"SECUREBOX_BOX_FAULT_LOOPS": loops})  # fmt: skip
    session.run("python", "-m", "pytest", *quiet, "tests/server/security/test_database_restart.py",
                env={"SECUREBOX_PG_RESTART_LOOPS": loops})  # fmt: skip
    crawl = {"SECUREBOX_CRAWL_BOTH_LANGUAGES": "1", "SECUREBOX_CRAWL_PAGES": "1000"}
    session.run("python", "-m", "pytest", *quiet, "tests/server/security/test_crawl.py", env=crawl)
    session.run("python", "-m", "pytest", *quiet, "-m", "timing",
                "tests/server/security", "tests/server/recovery")  # fmt: skip
    for target in ATHERIS_TARGETS:
        session.run("python", "fuzz/parsers.py", target, "-max_total_time=5",
                    "-print_final_stats=0")  # fmt: skip


@nox.session
def scale(session: nox.Session) -> None:
    """Several hosts behind nginx on one PostgreSQL (issue 19, ADR 0057): the test
    (``-m scale``), then ``tools/scale_cluster.py`` for ``-- ROUNDS`` rounds of 60 s (3 by
    default), a different host killed in each; the report in ``.cache/scale/report.md``.
    Needs root for network namespaces (else loopback addresses), nginx and PostgreSQL 15."""
    _install_dev(session)
    rounds = session.posargs[0] if session.posargs else "3"
    session.run("python", "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "scale",
                "tests/server/scale")  # fmt: skip
    session.run("python", "tools/scale_cluster.py", "--rounds", rounds, "--seconds", "60",
                "--kill-at", "20")  # fmt: skip


@nox.session
def browser(session: nox.Session) -> None:
    """The browser suite (Playwright driving Debian's /usr/bin/chromium, axe-core from npm):
    every journey in French and English, the accessibility report and, on failure, traces
    in ``.cache/browser-artifacts``; the screenshots of every page into docs/screenshots."""
    _install_dev(session)
    session.run(
        "npm", "install", "--prefix", ".cache/axe", "--no-audit", "--no-fund", "axe-core@4",
        external=True,
    )  # fmt: skip
    env = {"SECUREBOX_SCREENSHOTS": "docs/screenshots"}
    session.run("python", "-m", "pytest", "-m", "browser", "tests/browser", *session.posargs,
                env=env)  # fmt: skip


@nox.session
def timing(session: nox.Session) -> None:
    """The timing comparisons (unknown and known claims answered in the same time): run them on
    a quiet machine; a loaded one makes medians noisy."""
    _install_dev(session)
    session.run("python", "-m", "pytest", "-q", "-m", "timing", "tests", *session.posargs)


@nox.session
def schemathesis(session: nox.Session) -> None:
    """The deep schemathesis runs of the HTTP API (``-m slow``): stateless, 200 examples an
    operation, and stateful over the OpenAPI links, 300 scenarios a machine (``-- N`` for
    N examples and N scenarios)."""
    _install_dev(session)
    examples = session.posargs[0] if session.posargs else None
    env = {
        "SECUREBOX_API_EXAMPLES": examples or "200",
        "SECUREBOX_STATEFUL_EXAMPLES": examples or "300",
    }
    session.run("python", "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "slow",
                "tests/server/api", env=env)  # fmt: skip


@nox.session
def examples(session: nox.Session) -> None:
    """The portals that are not ours (``examples/*``): each example is its own project with its
    own ``pyproject.toml`` (a ``test`` extra) and tests, installed beside securebox and tested
    from its own folder (``-- NAME`` for one example)."""
    session.install("--upgrade", "pip>=25.1")
    session.install("-e", ".[server]")
    wanted = set(session.posargs)
    for project in sorted(Path("examples").glob("*/pyproject.toml")):
        folder = project.parent
        if wanted and folder.name not in wanted:
            continue
        session.install("-e", f"{folder}[test]")
        with session.chdir(folder):
            session.run("python", "-m", "pytest", "-q", "-p", "no:cacheprovider")
            if "[tool.mypy]" in project.read_text(encoding="utf-8"):
                session.run("python", "-m", "mypy")
