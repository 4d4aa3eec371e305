r"""The workflow sandbox, made cheap: workflow modules compiled once per process.

Temporal's ``SandboxedWorkflowRunner`` re-imports every non-passthrough module
(our workflow module) for each workflow run, in a fresh module namespace: that
is how it keeps one run's module state from leaking into another and how it
catches non-deterministic calls. Each re-import goes through the ordinary
import machinery: find the file, stat it, read the cached bytecode and
unmarshal it, or, without a bytecode cache (``PYTHONDONTWRITEBYTECODE=1``, a
read-only image, a fresh checkout), **compile the source again**. Profiling the
worker showed that compile as ~24% of its CPU (about 8 ms per batch).

``WorkflowCodeCache`` is a ``sys.meta_path`` finder for the named packages
whose loader keeps each module's code object in memory after the first
compile. The sandbox still executes the module body in a fresh namespace for
every run (its protection is unchanged); only the file system and the compiler
are skipped. A side benefit: a worker keeps running the workflow code it
started with even if the files change under it, which is what determinism
needs anyway (the unsandboxed interpreter behaves the same way).

``LeanSandboxedWorkflowRunner`` removes two costs the SDK's sandbox pays per
call, not per protection (``python -m bench.micro sandbox-calls`` counts them: a
2-leg batch makes 56 such calls, 3.8 ms of worker CPU in the context lookups
alone):

* every call into the sandbox ``exec``\ s a *string*, compiled anew each time
  (~20 us): the lean instance compiles each of the SDK's few fixed snippets once;
* the payload visitor asks the workflow for each payload's serialization context
  (39 times per batch, 3 visits per direction) and for its external-store context,
  and each ask enters the sandbox (import hooks swapped in and out). Those are
  lookups in the SDK's own bookkeeping of pending commands (``temporalio`` is
  passed through, no workflow code runs), so the lean instance answers them
  directly. Workflow code (instance creation, every activation) still runs inside
  the sandbox, restrictions and all.

It subclasses the SDK's private ``_Instance``: pinned to the SDK minor version in
pyproject, and ``tests/temporal/test_sandbox.py`` fails if the SDK changes the
methods it overrides.

``workflow_runner`` builds the runner the worker uses. ``EXECBATCH_WORKFLOW_SANDBOX=0``
selects ``UnsandboxedWorkflowRunner`` instead: about 20 ms less worker CPU per
batch, for deployments whose workflow code is covered by the replay tests (the
sandbox is what catches a stray ``datetime.now()`` or I/O at run time).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
import threading
from collections.abc import Callable, Sequence
from types import CodeType, ModuleType
from typing import Any

import temporalio.workflow
from temporalio.converter import SerializationContext
from temporalio.worker import UnsandboxedWorkflowRunner, WorkflowInstance, WorkflowRunner
from temporalio.worker._command_aware_visitor import CommandInfo
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions
from temporalio.worker.workflow_sandbox._runner import _Instance

SANDBOX_ENV = "EXECBATCH_WORKFLOW_SANDBOX"
"""``0``/``false``/``off``: run workflows unsandboxed (see the module docstring)."""


class _CachingSourceLoader(importlib.machinery.SourceFileLoader):
    """A source loader whose ``get_code`` is computed once per file and process."""

    def __init__(self, fullname: str, path: str, cache: WorkflowCodeCache) -> None:
        super().__init__(fullname, path)
        self._cache = cache

    def get_code(self, fullname: str) -> CodeType:
        return self._cache.code_for(self.path, lambda: self._compile(fullname))

    def _compile(self, fullname: str) -> CodeType:
        code = super().get_code(fullname)
        if code is None:  # only for namespace packages, which have no source loader
            raise ImportError(f"no code for {fullname}", name=fullname)
        return code


class WorkflowCodeCache(importlib.abc.MetaPathFinder):
    """Finds the modules of ``packages`` (and the packages above them) like the path
    finder, once per process: then from memory, loading cached code.

    Each workflow run re-imports them with their parent packages, and the path
    finder would search the file system for each (``stat`` calls along
    ``sys.path``: 0.3 ms of a run's 2.3 ms instance). Where a module was found stays
    where it is for the life of the worker, like its code.
    """

    def __init__(self, packages: Sequence[str]) -> None:
        self._packages = tuple(packages)
        self._parents = frozenset(
            ".".join(p.split(".")[:depth])
            for p in self._packages
            for depth in range(1, p.count(".") + 1)
        )
        self._code: dict[str, CodeType] = {}
        self._found: dict[str, tuple[str, list[str] | None]] = {}
        self._lock = threading.Lock()

    def handles(self, fullname: str) -> bool:
        return fullname in self._parents or any(
            fullname == p or fullname.startswith(p + ".") for p in self._packages
        )

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if not self.handles(fullname):
            return None
        with self._lock:
            found = self._found.get(fullname)
        if found is None:
            spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
            if spec is None or not isinstance(spec.loader, importlib.machinery.SourceFileLoader):
                return spec
            assert spec.origin is not None  # a source file loader always has one
            found = (spec.origin, spec.submodule_search_locations)
            with self._lock:
                found = self._found.setdefault(fullname, found)
        origin, locations = found
        spec = importlib.machinery.ModuleSpec(
            fullname,
            _CachingSourceLoader(fullname, origin, self),
            origin=origin,
            is_package=locations is not None,
        )
        spec.has_location = True  # __file__, as the path finder's spec sets it
        if locations is not None:
            spec.submodule_search_locations = list(locations)
        return spec

    def code_for(self, path: str, compile_code: Callable[[], CodeType]) -> CodeType:
        with self._lock:
            code = self._code.get(path)
        if code is None:
            code = compile_code()
            with self._lock:
                code = self._code.setdefault(path, code)
        return code

    def install(self) -> WorkflowCodeCache:
        """Put this finder first on ``sys.meta_path`` (once; returns the one installed)."""
        for finder in sys.meta_path:
            if isinstance(finder, WorkflowCodeCache) and finder._packages == self._packages:
                return finder
        sys.meta_path.insert(0, self)
        return self


_SNIPPETS: dict[str, CodeType] = {}
"""The SDK's sandbox snippets, compiled once per process (a handful of fixed strings)."""


class _LeanInstance(_Instance):
    """The SDK's sandboxed instance, minus the per-call compile and sandbox entry
    for context lookups (see the module docstring)."""

    def _run_code(self, code: str, **extra_globals: Any) -> None:
        compiled = _SNIPPETS.get(code)
        if compiled is None:
            compiled = _SNIPPETS.setdefault(code, compile(code, "<string>", "exec"))
        for key, value in extra_globals.items():
            self.globals_and_locals[key] = value
        try:
            temporalio.workflow.unsafe._set_in_sandbox(True)
            self._current_thread_id = threading.get_ident()
            exec(compiled, self.globals_and_locals, self.globals_and_locals)
        finally:
            temporalio.workflow.unsafe._set_in_sandbox(False)
            self._current_thread_id = None
            for key in extra_globals:
                self.globals_and_locals.pop(key, None)

    def get_serialization_context(
        self, command_info: CommandInfo | None
    ) -> SerializationContext | None:
        in_sandbox: Any = self.globals_and_locals["__temporal_in_sandbox"]
        context: SerializationContext | None = in_sandbox.get_serialization_context(command_info)
        return context

    def get_external_store_context(self, command_info: CommandInfo | None) -> Any:
        in_sandbox: Any = self.globals_and_locals["__temporal_in_sandbox"]
        return in_sandbox.get_external_store_context(command_info)


class LeanSandboxedWorkflowRunner(SandboxedWorkflowRunner):
    r"""``SandboxedWorkflowRunner`` whose instances are ``_LeanInstance``\ s."""

    def create_instance(self, det: Any) -> WorkflowInstance:
        return _LeanInstance(det, self.runner_class, self.restrictions)


def sandbox_enabled() -> bool:
    return os.environ.get(SANDBOX_ENV, "1").strip().lower() not in ("0", "false", "off", "no")


def workflow_runner(
    passthrough: Sequence[str],
    sandboxed_packages: Sequence[str] = ("execbatch.workflows",),
    sandbox: bool | None = None,
) -> WorkflowRunner:
    """The sandboxed runner with ``passthrough`` modules shared and the code of
    ``sandboxed_packages`` cached; unsandboxed when ``sandbox`` is False (default:
    the ``EXECBATCH_WORKFLOW_SANDBOX`` environment variable, on unless set to 0)."""
    if not (sandbox_enabled() if sandbox is None else sandbox):
        return UnsandboxedWorkflowRunner()
    WorkflowCodeCache(sandboxed_packages).install()
    restrictions = SandboxRestrictions.default.with_passthrough_modules(*passthrough)
    return LeanSandboxedWorkflowRunner(restrictions=restrictions)
