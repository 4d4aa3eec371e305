"""Ending a process that has used a Temporal client, without the SDK's shutdown crash.

The Temporal SDK's native runtime keeps threads that can call back into Python while
the interpreter finalizes; that occasionally aborts a short-lived process that has
finished its work with "Fatal Python error: PyGILState_Release ... finalizing" (exit
-6 / 134) after its output was printed (temporalio/sdk-python issue #300, open). A
process whose work is done therefore flushes what it wrote and leaves with
``os._exit``, skipping finalization: the CLI does, and so can a strategy script
(``execbatch.client.run_and_exit``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Coroutine
from typing import Any, NoReturn

EXIT_INTERRUPTED = 130


def exit_now(code: int) -> NoReturn:
    """Flush the standard streams and the logging handlers, then end the process with
    ``code`` without interpreter finalization (``atexit`` handlers do not run)."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def run_and_exit(main: Coroutine[Any, Any, int | None]) -> NoReturn:
    """``sys.exit(asyncio.run(main))`` for a script that uses a Temporal client: the
    coroutine's return value is the exit status (None: 0), Ctrl-C exits 130. An
    exception it raises propagates as from ``asyncio.run`` (Python prints it)."""
    try:
        code = asyncio.run(main) or 0
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    exit_now(code)
