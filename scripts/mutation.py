"""Mutation testing of the trust cores: our own AST mutation runner (`make mutation`).

Each mutant is one small change to one module (a comparison flipped, `and` swapped for `or`, a `not`
dropped, a constant moved by one, a return value negated, an arithmetic operator swapped, a slice bound
moved, a `raise` or an early `return` removed). The module's unit tests run against a temporary copy of
the source tree holding the mutant; a mutant the tests do not fail is a survivor. Survivors are killed
with new tests or listed in scripts/mutation-equivalents.txt with the reason they cannot be told apart.

Speed: each worker is a "zygote" process that imports pytest and the heavy libraries once and forks a
child per mutant, so a mutant costs its tests, not an interpreter start. A child that runs past its
timeout (a mutant that never leaves a loop) is killed. Two workers by default: the machine has two cores.

Usage: python scripts/mutation.py [--module audit/merkle.py ...] [--workers 2] [--list] [--survivors]
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import copy
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "src" / "carnet"
EQUIVALENTS = ROOT / "scripts" / "mutation-equivalents.txt"

# Module (relative to src/carnet) -> the unit tests that speak for it.
MODULES: dict[str, list[str]] = {
    "access/policy.py": ["tests/unit/test_access_policy.py"],
    "audit/merkle.py": ["tests/unit/test_merkle.py"],
    "credentials/verify.py": ["tests/unit/credentials/test_verify.py"],
    "credentials/cose.py": ["tests/unit/credentials/test_cose.py", "tests/unit/credentials/test_verify.py"],
    "credentials/base45.py": ["tests/unit/credentials/test_base45.py", "tests/unit/credentials/test_base45_paths.py"],
    "credentials/statuslist.py": [
        "tests/unit/credentials/test_statuslist.py",
        "tests/unit/credentials/test_statuslist_edges.py",
    ],
    "credentials/cbor_guard.py": [
        "tests/unit/credentials/test_cbor_guard.py",
        "tests/unit/credentials/test_cbor_guard_edges.py",
    ],
    "registry/policy.py": [
        "tests/unit/test_prohibited_attributes.py",
        "tests/unit/test_prohibited_names_es.py",
        "tests/unit/test_prohibited_names_en.py",
        "tests/unit/test_prohibited_names_pt.py",
    ],
    "programs/rules/check.py": ["tests/unit/programs"],
}

# Imported once by each zygote so that a forked child starts warm; none of them imports carnet.
WARM_IMPORTS = ("pytest", "hypothesis", "cbor2", "cryptography", "lark", "yaml", "zlib", "unicodedata")

COMPARE_FLIPS = {
    ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.In: ast.NotIn, ast.NotIn: ast.In,
    ast.Is: ast.IsNot, ast.IsNot: ast.Is,
}  # fmt: skip
ARITHMETIC_SWAPS = {
    ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.FloorDiv, ast.Div: ast.Mult, ast.FloorDiv: ast.Mult,
    ast.Mod: ast.FloorDiv, ast.Pow: ast.Mult, ast.LShift: ast.RShift, ast.RShift: ast.LShift,
    ast.BitOr: ast.BitAnd, ast.BitAnd: ast.BitOr, ast.BitXor: ast.BitOr,
}  # fmt: skip
SKIPPED_FIELDS = {"annotation", "returns", "type_comment"}


@dataclass(frozen=True)
class Mutant:
    """One change to one module, named stably by its line, operator and the text it changes."""

    module: str
    number: int  # its place among the module's mutation sites, for re-applying it
    line: int
    operator: str
    description: str

    @property
    def key(self) -> str:
        """The key of this mutant in the equivalents file."""
        return f"{self.module}:{self.line} || {self.operator} || {self.description}"


def _segment(source: str, node: ast.AST) -> str:
    text = ast.get_source_segment(source, node) or ast.unparse(node)
    return " ".join(text.split())[:100]


def _is_string(node: ast.AST) -> bool:
    return isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, str))


def _children(node: ast.AST) -> Iterator[tuple[str, int | None, ast.AST]]:
    for field, value in ast.iter_fields(node):
        if field in SKIPPED_FIELDS:
            continue
        if isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, ast.AST):
                    yield field, index, item
        elif isinstance(value, ast.AST):
            yield field, None, value


def _walk(node: ast.AST, parent: ast.AST | None = None) -> Iterator[tuple[ast.AST, ast.AST | None]]:
    """Every node with its parent, in a fixed order; docstrings and annotations are left out."""
    yield node, parent
    for field, index, child in _children(node):
        is_docstring = (
            field == "body"
            and index == 0
            and isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            and isinstance(child, ast.Expr)
            and _is_string(child.value)
        )
        if not is_docstring:
            yield from _walk(child, node)


def _plus(expr: ast.expr, amount: int) -> ast.expr:
    return ast.BinOp(left=copy.deepcopy(expr), op=ast.Add() if amount > 0 else ast.Sub(), right=ast.Constant(1))


def _replace(parent: ast.AST | None, node: ast.AST, new: ast.AST) -> None:
    """Put `new` where `node` stands in `parent`."""
    for field, value in ast.iter_fields(parent):
        if value is node:
            setattr(parent, field, new)
            return
        if isinstance(value, list):
            for index, item in enumerate(value):
                if item is node:
                    value[index] = new
                    return
    raise LookupError("node not found in its parent")


def _sites(tree: ast.Module, source: str) -> Iterator[tuple[str, str, int, object]]:
    """(operator, description, line, apply) for every mutation of the tree; apply() changes it in place."""
    for node, parent in _walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Compare):
            for position, op in enumerate(node.ops):
                flipped = COMPARE_FLIPS.get(type(op))
                if flipped is None:
                    continue

                def apply(node=node, position=position, flipped=flipped) -> None:
                    node.ops[position] = flipped()

                yield "compare", f"{_segment(source, node)}: {type(op).__name__} -> {flipped.__name__}", line, apply
        elif isinstance(node, ast.BoolOp):
            other = ast.Or if isinstance(node.op, ast.And) else ast.And

            def apply(node=node, other=other) -> None:
                node.op = other()

            yield "boolean", f"{_segment(source, node)}: {type(node.op).__name__} -> {other.__name__}", line, apply
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):

            def apply(node=node, parent=parent) -> None:
                _replace(parent, node, node.operand)

            yield "not", f"{_segment(source, node)}: not removed", line, apply
        elif isinstance(node, ast.Constant) and not isinstance(parent, ast.Slice):
            if isinstance(node.value, bool):

                def apply(node=node) -> None:
                    node.value = not node.value

                yield "constant", f"{_segment(source, parent)}: {node.value} -> {not node.value}", line, apply
            elif isinstance(node.value, int):
                replacements = [node.value + 1, node.value - 1] + ([0] if node.value not in (0,) else [])
                for value in dict.fromkeys(replacements):

                    def apply(node=node, value=value) -> None:
                        node.value = value

                    yield "constant", f"{_segment(source, parent)}: {node.value} -> {value}", line, apply
        elif isinstance(node, ast.BinOp | ast.AugAssign):
            swapped = ARITHMETIC_SWAPS.get(type(node.op))
            operands = [node.left, node.right] if isinstance(node, ast.BinOp) else [node.value]
            if swapped is None or any(_is_string(operand) for operand in operands):
                continue

            def apply(node=node, swapped=swapped) -> None:
                node.op = swapped()

            yield "arithmetic", f"{_segment(source, node)}: {type(node.op).__name__} -> {swapped.__name__}", line, apply
        elif isinstance(node, ast.Slice):
            for bound in ("lower", "upper"):
                expr = getattr(node, bound)
                if expr is None:
                    continue
                for label, make in (("+1", lambda e: _plus(e, 1)), ("removed", lambda e: None)):

                    def apply(node=node, bound=bound, make=make, expr=expr) -> None:
                        setattr(node, bound, make(expr))

                    yield "slice", f"{_segment(source, node)}: {bound} {label}", line, apply
        elif (
            isinstance(node, ast.Return)
            and node.value is not None
            and not (isinstance(node.value, ast.Constant) and node.value.value is None)
        ):

            def apply(node=node) -> None:
                node.value = ast.UnaryOp(op=ast.Not(), operand=node.value)

            yield "return", f"{_segment(source, node)}: value negated", line, apply
        if isinstance(node, ast.Raise) or (
            isinstance(node, ast.Return) and not isinstance(parent, ast.FunctionDef | ast.AsyncFunctionDef)
        ):
            if parent is None:
                continue
            kind = "raise" if isinstance(node, ast.Raise) else "early-return"

            def apply(node=node, parent=parent) -> None:
                _replace(parent, node, ast.Pass())

            yield kind, f"{_segment(source, node)}: removed", line, apply


def mutants_of(module: str) -> list[Mutant]:
    """Every mutant of a module, in a stable order."""
    source = (SOURCE / module).read_text(encoding="utf-8")
    tree = ast.parse(source)
    out: list[Mutant] = []
    seen: dict[tuple[int, str, str], int] = {}
    for number, (operator, description, line, _apply) in enumerate(_sites(tree, source)):
        # The same change can occur twice on a line (two `1`s in one expression): number the repeats.
        repeat = seen.get((line, operator, description), 0) + 1
        seen[(line, operator, description)] = repeat
        out.append(Mutant(module, number, line, operator, description + (f" (#{repeat})" if repeat > 1 else "")))
    return out


def mutated_source(mutant: Mutant) -> str:
    """The module's source with this one mutant applied."""
    source = (SOURCE / mutant.module).read_text(encoding="utf-8")
    tree = ast.parse(source)
    for number, (_operator, _description, _line, apply) in enumerate(_sites(tree, source)):
        if number == mutant.number:
            apply()  # type: ignore[operator]
            return ast.unparse(ast.fix_missing_locations(tree)) + "\n"
    raise LookupError(mutant.key)


def read_equivalents() -> dict[str, str]:
    """Mutant key -> the reason it is equivalent, from scripts/mutation-equivalents.txt."""
    out: dict[str, str] = {}
    if not EQUIVALENTS.exists():
        return out
    for raw in EQUIVALENTS.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = [part.strip() for part in line.split(" || ")]
        if len(parts) != 4 or not parts[3]:
            raise SystemExit(
                f"{EQUIVALENTS.name}: a line needs MODULE:LINE || OPERATOR || DESCRIPTION || REASON: {raw}"
            )
        out[" || ".join(parts[:3])] = parts[3]
    return out


# ---------------------------------------------------------------------------------------------------------
# The zygote: one per worker, on its own copy of the source tree.


def zygote(tree: str) -> None:
    """Read jobs (JSON lines: tests, timeout) and answer each with the exit status of a forked pytest."""
    for name in WARM_IMPORTS:
        with contextlib.suppress(ImportError):
            __import__(name)
    import pytest

    os.chdir(tree)
    for line in sys.stdin:
        job = json.loads(line)
        started = time.monotonic()
        pid = os.fork()
        if pid == 0:
            sys.path.insert(0, os.path.join(tree, "src"))
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            args = ["-x", "-q", "-p", "no:cacheprovider", "--noconftest", "-c", job["ini"], "--rootdir", job["root"]]
            try:
                code = pytest.main(args + job["tests"])
            except BaseException:
                code = 99
            os._exit(int(code))
        status = _wait(pid, job["timeout"])
        print(json.dumps({"status": status, "seconds": round(time.monotonic() - started, 3)}), flush=True)


def _wait(pid: int, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while True:
        done, raw = os.waitpid(pid, os.WNOHANG)
        if done:
            code = os.waitstatus_to_exitcode(raw)
            return "survived" if code == 0 else "killed"
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return "timeout"
        time.sleep(0.01)


class Worker:
    """A zygote process over its own temporary copy of src/."""

    def __init__(self, workdir: Path) -> None:
        self.tree = workdir
        shutil.copytree(ROOT / "src", workdir / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        shutil.copytree(ROOT / "docs", workdir / "docs")  # some tests check that the docs name what the code holds
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0"}
        env.pop("PYTHONPATH", None)
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--zygote", str(workdir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )

    def run(self, tests: list[str], timeout: float) -> tuple[str, float]:
        """Run the tests on the tree as it is now: (survived | killed | timeout, seconds)."""
        job = {"tests": [str(ROOT / t) for t in tests], "timeout": timeout, "ini": str(ROOT / "pyproject.toml"),
               "root": str(ROOT)}  # fmt: skip
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write(json.dumps(job) + "\n")
        self.process.stdin.flush()
        answer = json.loads(self.process.stdout.readline())
        return answer["status"], answer["seconds"]

    def write(self, module: str, text: str) -> None:
        """Put `text` in place of the module in this worker's tree."""
        (self.tree / "src" / "carnet" / module).write_text(text, encoding="utf-8")

    def close(self) -> None:
        """Stop the zygote."""
        if self.process.stdin:
            self.process.stdin.close()
        self.process.wait(timeout=30)


def run(modules: list[str], workers: int, show_survivors: bool) -> int:
    """Run every mutant of the modules; print the score per module; 1 if a module is below 95 %."""
    equivalents = read_equivalents()
    missing = [t for m in modules for t in MODULES[m] if not (ROOT / t).exists()]
    tests_of = {m: [t for t in MODULES[m] if (ROOT / t).exists()] for m in modules}
    if missing:
        print("note: not yet written, skipped: " + ", ".join(missing), file=sys.stderr)
    results: dict[str, list[tuple[Mutant, str]]] = {m: [] for m in modules}
    broken: list[str] = []
    with tempfile.TemporaryDirectory(prefix="carnet-mutation-") as scratch:
        pool = [Worker(Path(scratch) / f"w{i}") for i in range(workers)]
        try:
            for module in modules:
                baseline_status, baseline = pool[0].run(tests_of[module], timeout=600)
                if baseline_status != "survived":
                    print(f"{module}: the tests fail on the unmutated code; skipped", file=sys.stderr)
                    broken.append(module)
                    continue
                timeout = max(10.0, baseline * 5)
                queue = [m for m in mutants_of(module) if m.key not in equivalents]
                lock = threading.Lock()
                started = time.monotonic()

                def drain(
                    worker: Worker, module: str = module, queue: list = queue, timeout: float = timeout, lock=lock
                ) -> None:
                    original = (SOURCE / module).read_text(encoding="utf-8")
                    while True:
                        with lock:
                            if not queue:
                                break
                            mutant = queue.pop(0)
                        worker.write(module, mutated_source(mutant))
                        status, _ = worker.run(tests_of[module], timeout)
                        with lock:
                            results[module].append((mutant, status))
                    worker.write(module, original)

                threads = [threading.Thread(target=drain, args=(w,)) for w in pool]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                survivors = sorted((m for m, s in results[module] if s == "survived"), key=lambda m: m.number)
                print(f"{module}: {len(results[module])} mutants, {len(survivors)} survived "
                      f"({time.monotonic() - started:.0f} s)", file=sys.stderr, flush=True)  # fmt: skip
                if show_survivors:
                    for mutant in survivors:
                        print(f"  SURVIVED {mutant.key}", file=sys.stderr, flush=True)
        finally:
            for worker in pool:
                worker.close()
    status = report([m for m in modules if m not in broken], results, equivalents, show_survivors)
    return 2 if broken else status


def report(modules: list[str], results: dict, equivalents: dict[str, str], show_survivors: bool) -> int:
    """Print the score table (Markdown, for docs/operations.md) and the survivors."""
    print("| module | mutants | killed | timed out | equivalent | survived | score |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    below = False
    stale = set(equivalents)
    for module in modules:
        everything = mutants_of(module)
        keys = {m.key for m in everything}
        stale -= keys
        equivalent = sum(1 for m in everything if m.key in equivalents)
        statuses = [status for _, status in results[module]]
        killed, timed_out, survived = (statuses.count(s) for s in ("killed", "timeout", "survived"))
        judged = killed + timed_out + survived
        score = 100.0 * (killed + timed_out) / judged if judged else 100.0
        below |= score < 95.0
        print(
            f"| `{module}` | {len(everything)} | {killed} | {timed_out} | {equivalent} | {survived} | {score:.1f} % |"
        )
    if show_survivors:
        for module in modules:
            for mutant, status in sorted(results[module], key=lambda r: r[0].number):
                if status == "survived":
                    print(f"SURVIVED {mutant.key}")
    for key in sorted(k for k in stale if k.split(":")[0] in modules):
        print(f"STALE equivalent (no such mutant now): {key}", file=sys.stderr)
    return 1 if below else 0


def main() -> int:
    """Parse the command line and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--module", action="append", choices=sorted(MODULES), help="only this module (repeatable)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--list", action="store_true", help="list the mutants and stop")
    parser.add_argument("--survivors", action="store_true", help="print every survivor's key")
    parser.add_argument("--show", metavar="KEY", help="print the mutated source of one mutant (by key prefix)")
    parser.add_argument("--zygote", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.zygote:
        zygote(args.zygote)
        return 0
    modules = args.module or list(MODULES)
    if args.list or args.show:
        for module in modules:
            for mutant in mutants_of(module):
                if args.show and mutant.key.startswith(args.show):
                    print(mutated_source(mutant))
                    return 0
                if args.list:
                    print(mutant.key)
        return 0
    return run(modules, max(1, args.workers), args.survivors)


if __name__ == "__main__":
    sys.exit(main())
