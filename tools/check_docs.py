#!/usr/bin/env python3
"""Run the Python examples of the documentation.

Every fenced block whose info string is ``python`` in ``README.md`` and ``docs/**/*.md`` is
executed. The blocks of one file run in order in one fresh module namespace, so a later block
can use what an earlier one defined; files do not share anything. A block fenced as
``python no-run`` is shown to readers but not run (for fragments that need a database, a
network or a real secret).

    python3 tools/check_docs.py                     # README.md and docs/**/*.md
    python3 tools/check_docs.py docs/identity.md    # only these files (or directories)
    python3 tools/check_docs.py -v                  # also show what the examples print

Exit status: 0 when every block ran, 1 when a block failed, 2 when a file cannot be read or
has a malformed fence.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import sys
import tempfile
import time
import traceback
import types
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parent.parent
PYTHON_LANGUAGES: Final = frozenset({"python", "py", "python3"})
NO_RUN: Final = "no-run"

# CommonMark fences: up to three spaces of indentation, then three or more backticks or
# tildes. A backtick fence's info string may not contain a backtick.
_OPEN: Final = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}(?=[^`]*$)|~{3,})(?P<info>.*)$")
_CLOSE: Final = re.compile(r"^ {0,3}(?P<fence>`{3,}|~{3,})[ \t]*$")


class FenceError(Exception):
    """A Markdown file has a fence this tool cannot read safely."""


@dataclass(frozen=True, slots=True)
class Block:
    """One fenced Python block."""

    number: int  #: 1-based position among the file's Python blocks (run or not)
    line: int  #: line number of the block's first line of code in the file
    source: str
    run: bool


@dataclass(frozen=True, slots=True)
class _Fence:
    char: str
    length: int
    indent: int
    info: str
    line: int


def _python_flags(info: str, line: int) -> bool | None:
    """``None`` when the fence is not Python; else whether the block runs."""
    words = info.split()
    if not words or words[0].lower() not in PYTHON_LANGUAGES:
        return None
    unknown = [word for word in words[1:] if word != NO_RUN]
    if unknown:
        raise FenceError(f"line {line}: unknown fence option(s) {unknown} (only {NO_RUN!r})")
    return NO_RUN not in words[1:]


def extract_blocks(text: str) -> list[Block]:
    """The Python blocks of a Markdown text, in order."""
    blocks: list[Block] = []
    fence: _Fence | None = None
    body: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if fence is None:
            opened = _OPEN.match(raw)
            if opened:
                marker, indent = opened["fence"], len(opened["indent"])
                fence = _Fence(marker[0], len(marker), indent, opened["info"], number)
                body = []
            continue
        closed = _CLOSE.match(raw)
        if closed and closed["fence"][0] == fence.char and len(closed["fence"]) >= fence.length:
            runs = _python_flags(fence.info, fence.line)
            if runs is not None:
                source = "\n".join(body) + "\n"
                blocks.append(Block(len(blocks) + 1, fence.line + 1, source, runs))
            fence = None
            continue
        # Content of an indented fence loses up to that much indentation (CommonMark).
        strip = len(raw) - len(raw.lstrip(" "))
        body.append(raw[min(strip, fence.indent) :])
    if fence is not None:
        raise FenceError(f"line {fence.line}: the fence opened here is never closed")
    return blocks


@dataclass(frozen=True, slots=True)
class FileResult:
    path: Path
    ran: int
    skipped: int
    seconds: float
    failed: Block | None = None


def _display(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def run_file(path: Path, blocks: Sequence[Block], *, verbose: bool) -> FileResult:
    """Run ``blocks`` in order in one fresh module; stop at the first failure."""
    module_name = f"_securebox_docs_{abs(hash(path)):x}"
    module = types.ModuleType(module_name, f"examples of {_display(path)}")
    module.__file__ = str(path)
    output = io.StringIO()
    started = time.perf_counter()
    ran = 0
    sys.modules[module_name] = module  # dataclasses and typing look classes up here
    # each file's examples run in a fresh empty directory: what they write stays out of the
    # checkout (and what they read must not depend on where the tool was started)
    workdir = tempfile.TemporaryDirectory(prefix="securebox-docs-")
    try:
        for block in blocks:
            if not block.run:
                continue
            try:
                # Blank lines first, so tracebacks give the line number in the Markdown file.
                code = compile("\n" * (block.line - 1) + block.source, str(path), "exec")
                with (
                    contextlib.chdir(workdir.name),
                    contextlib.redirect_stdout(output),
                    contextlib.redirect_stderr(output),
                    warnings.catch_warnings(),
                ):
                    warnings.simplefilter("error")
                    # Running the documentation's own examples is the purpose of this tool.
                    exec(code, module.__dict__)  # noqa: S102
            except (Exception, SystemExit) as exc:
                if isinstance(exc, SystemExit) and exc.code in (None, 0):
                    ran += 1
                    continue
                _report_failure(path, block, exc, output.getvalue())
                return FileResult(path, ran, 0, time.perf_counter() - started, failed=block)
            ran += 1
    finally:
        del sys.modules[module_name]
        workdir.cleanup()
    skipped = sum(1 for block in blocks if not block.run)
    result = FileResult(path, ran, skipped, time.perf_counter() - started)
    print(_summary(result))
    if verbose and output.getvalue():
        print(_indent(output.getvalue()))
    return result


def _indent(text: str) -> str:
    return "\n".join(f"    | {line}" for line in text.rstrip("\n").splitlines())


def _report_failure(path: Path, block: Block, exc: BaseException, output: str) -> None:
    print(f"{_display(path)}: block {block.number} (line {block.line}) FAILED")
    if output:
        print("    output before the failure:")
        print(_indent(output))
    # Drop this tool's own frame (the exec call): the reader wants the example's frames.
    # A SyntaxError carries its location itself and has no frame of the example.
    tb = exc.__traceback__.tb_next if exc.__traceback__ is not None else None
    if isinstance(exc, SyntaxError):
        tb = None
    lines = traceback.format_exception(type(exc), exc, tb)
    print(_indent("".join(lines)))


def discover(arguments: Iterable[str]) -> list[Path]:
    """The Markdown files to check: the given files and directories, or the defaults."""
    given = [Path(argument).resolve() for argument in arguments]
    if not given:
        given = [ROOT / "README.md", ROOT / "docs"]
    files: list[Path] = []
    for path in given:
        if path.is_dir():
            files.extend(sorted(path.glob("**/*.md")))
        else:
            files.append(path)
    return files


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _summary(result: FileResult) -> str:
    if result.ran == 0 and result.skipped == 0:
        return f"{_display(result.path)}: no Python blocks"
    text = f"{_display(result.path)}: {_count(result.ran, 'block')} run"
    if result.skipped:
        text += f", {result.skipped} not run (no-run)"
    return f"{text} ({result.seconds:.2f} s)"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the Python examples of the docs.")
    parser.add_argument("paths", nargs="*", help="Markdown files or directories")
    parser.add_argument("-v", "--verbose", action="store_true", help="show the examples' output")
    args = parser.parse_args(argv)

    status = 0
    total = 0
    failures: list[str] = []
    files = discover(args.paths)
    for path in files:
        try:
            blocks = extract_blocks(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, FenceError) as exc:
            print(f"{_display(path)}: cannot check: {exc}")
            failures.append(_display(path))
            status = 2
            continue
        result = run_file(path, blocks, verbose=args.verbose)
        total += result.ran
        if result.failed is not None:
            failures.append(f"{_display(path)} block {result.failed.number}")
            status = max(status, 1)
    if failures:
        print(f"check_docs: FAILED in {', '.join(failures)} ({_count(total, 'block')} ran)")
    else:
        ran, checked = _count(total, "block"), _count(len(files), "file")
        print(f"check_docs: {ran} in {checked} ran without error")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
