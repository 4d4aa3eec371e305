"""The worker's workflow runner: sandboxed by default, workflow code compiled once."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.worker import UnsandboxedWorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from execbatch.temporal.sandbox import SANDBOX_ENV, WorkflowCodeCache, workflow_runner


@pytest.fixture
def package(tmp_path: Path) -> Iterator[Path]:
    """A throwaway package ``cachedpkg`` on sys.path, forgotten afterwards."""
    root = tmp_path / "cachedpkg"
    root.mkdir()
    (root / "__init__.py").write_text("")
    (root / "mod.py").write_text("COUNTER = []\nVALUE = 1\n")
    sys.path.insert(0, str(tmp_path))
    yield root
    sys.path.remove(str(tmp_path))
    for name in [n for n in sys.modules if n == "cachedpkg" or n.startswith("cachedpkg.")]:
        del sys.modules[name]


@pytest.fixture
def cache() -> Iterator[WorkflowCodeCache]:
    finder = WorkflowCodeCache(["cachedpkg"])
    sys.meta_path.insert(0, finder)
    yield finder
    sys.meta_path.remove(finder)


def fresh_import(name: str) -> object:
    """Import ``name`` again in a new module object, as the sandbox does for each run."""
    sys.modules.pop(name, None)
    return importlib.import_module(name)


def test_each_import_is_a_fresh_module_from_one_compile(
    package: Path, cache: WorkflowCodeCache
) -> None:
    first = fresh_import("cachedpkg.mod")
    first.COUNTER.append(1)  # type: ignore[attr-defined]
    # The file changes under the running process: the cached code keeps running,
    # as a workflow's code must for the life of a worker.
    (package / "mod.py").write_text("COUNTER = []\nVALUE = 2\n")
    second = fresh_import("cachedpkg.mod")
    assert second is not first
    assert second.COUNTER == []  # type: ignore[attr-defined]  # no state shared across runs
    assert second.VALUE == 1  # type: ignore[attr-defined]
    assert second.__loader__.get_code("cachedpkg.mod") is first.__loader__.get_code(  # type: ignore[attr-defined]
        "cachedpkg.mod"
    )


def test_a_module_and_its_package_are_found_on_disk_once(
    package: Path, cache: WorkflowCodeCache
) -> None:
    """Each run re-imports the workflow module and its parent packages: after the first
    import no run searches the file system (the files may even be gone)."""
    first = fresh_import("cachedpkg.mod")
    (package / "mod.py").unlink()
    (package / "__init__.py").unlink()
    sys.modules.pop("cachedpkg", None)
    second = fresh_import("cachedpkg.mod")
    assert second is not first
    assert second.VALUE == 1  # type: ignore[attr-defined]
    assert second.__file__ == first.__file__ == str(package / "mod.py")  # type: ignore[attr-defined]
    assert sys.modules["cachedpkg"].__path__ == [str(package)]


def test_other_modules_load_as_usual(cache: WorkflowCodeCache) -> None:
    assert not cache.handles("cachedpkgx")
    assert cache.find_spec("json", None) is None
    assert cache.handles("cachedpkg") and cache.handles("cachedpkg.sub.mod")
    nested = WorkflowCodeCache(["execbatch.workflows"])
    assert nested.handles("execbatch")  # the parent package, found once too
    assert not nested.handles("execbatch.core") and not nested.handles("execbatchx")


def test_install_is_idempotent() -> None:
    finder = WorkflowCodeCache(["cachedpkg"])
    try:
        assert finder.install() is finder
        assert WorkflowCodeCache(["cachedpkg"]).install() is finder
        assert sum(f is finder for f in sys.meta_path) == 1
    finally:
        sys.meta_path.remove(finder)


def test_sandboxed_by_default_and_off_by_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SANDBOX_ENV, raising=False)
    assert isinstance(workflow_runner(["pydantic"]), SandboxedWorkflowRunner)
    monkeypatch.setenv(SANDBOX_ENV, "0")
    assert isinstance(workflow_runner(["pydantic"]), UnsandboxedWorkflowRunner)
    assert isinstance(workflow_runner(["pydantic"], sandbox=True), SandboxedWorkflowRunner)


def test_lean_sandbox_still_refuses_a_clock_read_in_workflow_code() -> None:
    from temporalio.worker.workflow_sandbox import RestrictedWorkflowAccessError

    from execbatch.temporal.sandbox import LeanSandboxedWorkflowRunner
    from tests.temporal.clock_workflow import ClockAtImportWorkflow

    runner = workflow_runner((), sandboxed_packages=(), sandbox=True)
    assert isinstance(runner, LeanSandboxedWorkflowRunner)
    defn = workflow._Definition.must_from_class(ClockAtImportWorkflow)
    with pytest.raises(RestrictedWorkflowAccessError, match=r"datetime\.datetime\.now"):
        runner.prepare_workflow(defn)


def test_lean_instance_answers_contexts_as_the_sdk_instance_does() -> None:
    """The lean instance answers the SDK's context lookups itself; this fails the day
    the SDK's instance stops being a forwarder to the in-sandbox object's methods."""
    import inspect

    from temporalio.worker.workflow_sandbox import _runner

    from execbatch.temporal.sandbox import _LeanInstance

    for name in ("get_serialization_context", "get_external_store_context"):
        source = inspect.getsource(getattr(_runner._Instance, name))
        assert f"__temporal_in_sandbox.{name}(__temporal_command_info)" in source, name
        assert name in vars(_LeanInstance)
    run_code = inspect.getsource(_runner._Instance._run_code)
    assert "exec(code, self.globals_and_locals, self.globals_and_locals)" in run_code
    assert "_set_in_sandbox(True)" in run_code and "_current_thread_id" in run_code


PROBE_MODULES = {
    "clock_helper": "import datetime\nIMPORTED_AT = datetime.datetime.now()\n",
    # imported as our workflow modules import theirs: outside the pass-through block
    "checked": (
        "from temporalio import workflow\n"
        "from probepkg.clock_helper import IMPORTED_AT\n"
        "@workflow.defn\n"
        "class HelperChecked:\n"
        "    @workflow.run\n"
        "    async def run(self) -> str:\n"
        "        return IMPORTED_AT.isoformat()\n"
    ),
    # the pitfall: ``from x.y import z`` inside the block hands module x.y over unchecked
    "handed_over": (
        "from temporalio import workflow\n"
        "with workflow.unsafe.imports_passed_through():\n"
        "    from probepkg.clock_helper import IMPORTED_AT\n"
        "@workflow.defn\n"
        "class HelperHandedOver:\n"
        "    @workflow.run\n"
        "    async def run(self) -> str:\n"
        "        return IMPORTED_AT.isoformat()\n"
    ),
}


@pytest.fixture
def probe(tmp_path: Path) -> Iterator[None]:
    """``probepkg``: a helper that reads the clock when imported, and two workflow
    modules importing it, on sys.path for one test."""
    root = tmp_path / "probepkg"
    root.mkdir()
    (root / "__init__.py").write_text("")
    for name, source in PROBE_MODULES.items():
        (root / f"{name}.py").write_text(source)
    sys.path.insert(0, str(tmp_path))
    yield
    sys.path.remove(str(tmp_path))
    for name in [n for n in sys.modules if n == "probepkg" or n.startswith("probepkg.")]:
        del sys.modules[name]


@pytest.mark.usefixtures("probe")
async def test_a_helper_imported_as_ours_are_is_checked_one_handed_over_is_not() -> None:
    """What the rule below rests on, shown on the SDK with the worker's runner."""
    from temporalio.worker.workflow_sandbox import RestrictedWorkflowAccessError

    from execbatch.worker import workflow_runner as worker_runner

    checked = importlib.import_module("probepkg.checked").HelperChecked
    handed_over = importlib.import_module("probepkg.handed_over").HelperHandedOver
    runner = worker_runner(sandbox=True)
    with pytest.raises(RestrictedWorkflowAccessError, match=r"datetime\.datetime\.now"):
        runner.prepare_workflow(workflow._Definition.must_from_class(checked))
    runner.prepare_workflow(workflow._Definition.must_from_class(handed_over))


def test_workflow_code_is_never_handed_over_unchecked() -> None:
    """Inside a pass-through block, a workflow module imports only models, activities
    and the pure modules the worker passes through on purpose (``PASSTHROUGH_MODULES``);
    every module of workflow code is imported outside it, so the sandbox checks it."""
    import ast

    from execbatch.worker import PASSTHROUGH_MODULES

    workflows = Path(__file__).resolve().parents[2] / "workflows"
    handed_over: list[str] = []
    for path in sorted(workflows.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.With) or "imports_passed_through" not in ast.unparse(
                node.items[0].context_expr
            ):
                continue
            for statement in ast.walk(node):
                if not isinstance(statement, ast.ImportFrom) or statement.module is None:
                    continue
                names = (
                    [f"{statement.module}.{alias.name}" for alias in statement.names]
                    if statement.module == "execbatch.workflows"
                    else [statement.module]
                )
                handed_over += [
                    f"{path.name}: {name}"
                    for name in names
                    if name.startswith("execbatch.workflows.") and name not in PASSTHROUGH_MODULES
                ]
    assert handed_over == []
