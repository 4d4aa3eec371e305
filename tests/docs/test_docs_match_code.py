"""The docs hold: OPERATING.md's environment table names every EXECBATCH_* variable the
code reads, with the code's default, and the README's and OPERATING's command lists
are the CLI's own (``execbatch --help``)."""

from __future__ import annotations

import ast
import importlib
import os
import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_DIRS = ("backend", "workflows", "activities")
OPERATING = ROOT / "docs" / "OPERATING.md"
README = ROOT / "README.md"
NAME = re.compile(r"^EXECBATCH_[A-Z0-9_]+$")


@dataclass(frozen=True)
class Read:
    """A variable the code reads, where, and the default it falls back to (None: none
    that a literal states)."""

    name: str
    where: str
    default: str | None


def _module_name(path: Path) -> str:
    relative = path.relative_to(ROOT).with_suffix("")
    parts = list(relative.parts)
    if parts[0] == "backend":
        parts = parts[1:]
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(["execbatch", *parts])


def _docstrings(tree: ast.Module) -> set[int]:
    """ids of the string constants that are docstrings (mentions, not reads)."""
    found: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list):
            for statement in body:
                if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
                    found.add(id(statement.value))
    return found


def _text(value: object) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, int | str):
        return str(value) or None
    return None


def _reads() -> list[Read]:
    reads: list[Read] = []
    for folder in PACKAGE_DIRS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(), str(path))
            docstrings = _docstrings(tree)
            module = None

            def resolve(node: ast.expr, path: Path = path) -> object:
                nonlocal module
                if isinstance(node, ast.Constant):
                    return node.value
                if isinstance(node, ast.Name):
                    module = module or importlib.import_module(_module_name(path))
                    return getattr(module, node.id, None)
                return None

            names: dict[str, str | None] = {}
            for node in ast.walk(tree):
                if (
                    isinstance(node, ast.Constant)
                    and isinstance(node.value, str)
                    and id(node) not in docstrings
                    and (NAME.match(node.value) or node.value == "EXECBATCH_RISK_")
                ):
                    names.setdefault(node.value, None)
                if isinstance(node, ast.Call) and len(node.args) >= 2:
                    variable = resolve(node.args[0])
                    if isinstance(variable, str) and NAME.match(variable):
                        default = _text(resolve(node.args[1]))
                        if default is not None:
                            names[variable] = default
            where = str(path.relative_to(ROOT))
            reads += [Read(name, where, default) for name, default in names.items()]
    return reads


def _env_table() -> dict[str, str]:
    """OPERATING.md's configuration table: each variable named in a row's first cell ->
    the row's meaning."""
    rows: dict[str, str] = {}
    for line in OPERATING.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 2 or not line.startswith("| `"):
            continue
        for variable in re.findall(r"`(EXECBATCH_[A-Z0-9_]+)(?:\*|<[A-Z_]+>)?`", cells[0]):
            rows[variable] = cells[1]
    return rows


def test_every_env_variable_the_code_reads_is_in_the_operating_table() -> None:
    reads = _reads()
    assert len({r.name for r in reads}) > 20, "the scan found the variables"
    assert any(r.name == "EXECBATCH_RECOVERY_INTERVAL" and r.default == "5" for r in reads)
    table = _env_table()
    missing = sorted({f"{r.name} ({r.where})" for r in reads if r.name not in table})
    assert not missing, f"not in docs/OPERATING.md's environment table: {missing}"
    wrong = sorted(
        f"{r.name}: the code's default is {r.default!r} ({r.where}), the table says "
        f"{table[r.name]!r}"
        for r in reads
        if r.default is not None and f"default `{r.default}`" not in table[r.name]
    )
    assert not wrong, wrong


def _cli_commands() -> set[str]:
    """The commands ``execbatch --help`` lists (a real subprocess, as a user runs it)."""
    proc = subprocess.run(
        [sys.executable, "-m", "execbatch.cli.app", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1"},
    )
    box = proc.stdout.split("Commands", 1)[1].split("╰", 1)[0]
    return set(re.findall(r"^│ ([a-z][a-z-]*)  ", box, flags=re.MULTILINE))


def _listed(text: str, pattern: str) -> set[str]:
    return set(re.findall(pattern, text, flags=re.MULTILINE))


def test_readme_and_operating_list_every_cli_command() -> None:
    commands = _cli_commands()
    assert len(commands) >= 17
    operating = _listed(OPERATING.read_text(), r"^\| `execbatch ([a-z][a-z-]*)")
    assert operating == commands, (
        f"OPERATING's command table: missing {sorted(commands - operating)}, "
        f"extra {sorted(operating - commands)}"
    )
    readme = README.read_text()
    section = readme.split("## Commands", 1)[1].split("\n## ", 1)[0]
    listed = _listed(section, r"`execbatch ([a-z][a-z-]*)")
    assert listed == commands, (
        f"README's command list: missing {sorted(commands - listed)}, "
        f"extra {sorted(listed - commands)}"
    )


def test_architecture_lists_the_layers_lint_imports_checks() -> None:
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    [layers] = [c["layers"] for c in contracts["contracts"] if c["type"] == "layers"]
    block = (ROOT / "docs" / "ARCHITECTURE.md").read_text().split("## Layers", 1)[1]
    block = block.split("```", 2)[1].split("leaves", 1)[0]
    documented = [line.split("  ", 1)[0].strip() for line in block.splitlines() if line.strip()]
    assert documented == layers
