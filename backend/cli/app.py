"""The ``execbatch`` command line, its commands grouped by job.

* batches (``batches.py``): submit, status, cancel, recover, list;
* trading (``trading.py``): positions, a batch's venue orders;
* stack (``stack.py``): worker, dev, demo;
* venue (``venue.py``): the paper venue;
* security (``security.py``): the codec server;
* risk (``risk.py``): halt, reduce, resume, trading (the kill switch).

The client library (``execbatch.client``) has no CLI code; this package only
renders and reports what it returns. Usage errors are one line, exit 2
(``usage.py``).
"""

from __future__ import annotations

import typer

from execbatch.cli import batches, risk, security, stack, trading, venue
from execbatch.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    err,
    error_line,
    exit_codes,
)
from execbatch.cli.usage import ClickException, Command, Group, UsageError, describe
from execbatch.temporal.process_exit import exit_now

PROG = "execbatch"

app = typer.Typer(
    name=PROG,
    cls=Group,
    help="Durable execution of trading order batches on Temporal.",
    epilog=exit_codes(not_completed=True, interrupted=True, trading_refused=True)
    + " BATCH_ID is a batch id or a directive id; a batch's status is its BatchStatus "
    "(a Temporal run that COMPLETED may hold a CANCELLED or COMPENSATED batch).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

app.command(
    cls=Command, epilog=exit_codes(not_completed=True, interrupted=True, trading_refused=True)
)(batches.submit)
app.command(cls=Command, epilog=exit_codes())(batches.status)
app.command(cls=Command, epilog=exit_codes(interrupted=True))(batches.cancel)
app.command(cls=Command, epilog=exit_codes())(batches.recover)
app.command("list", cls=Command, epilog=exit_codes())(batches.list_batches)
app.command(cls=Command, epilog=exit_codes())(trading.positions)
app.command(cls=Command, epilog=exit_codes())(trading.orders)
app.command(cls=Command, epilog=exit_codes())(stack.worker)
app.command(cls=Command, epilog=exit_codes(interrupted=True))(stack.dev)
app.command(cls=Command, epilog=exit_codes())(stack.demo)
app.command(cls=Command, epilog=exit_codes())(venue.venue)
app.command("venue-check", cls=Command, epilog=exit_codes())(venue.venue_check)
app.command("codec-server", cls=Command, epilog=exit_codes())(security.codec_server)
app.command(cls=Command, epilog=exit_codes())(risk.halt)
app.command(cls=Command, epilog=exit_codes())(risk.reduce)
app.command(cls=Command, epilog=exit_codes())(risk.resume)
app.command(cls=Command, epilog=exit_codes())(risk.trading)


def run_cli(args: list[str] | None = None) -> int:
    """Run one command; its exit code. Usage errors are one line and exit 2."""
    try:
        returned = app(args=args, prog_name=PROG, standalone_mode=False)
        return returned if isinstance(returned, int) else 0
    except typer.Exit as done:
        return done.exit_code
    except UsageError as error:
        if type(error).__name__ == "NoArgsIsHelpError":  # `execbatch` alone: the help
            error.show()  # type: ignore[attr-defined]
            return EXIT_BAD_INPUT
        err.print(error_line(describe(error)), highlight=False, soft_wrap=True)
        return EXIT_BAD_INPUT
    except ClickException as error:
        message = error.format_message()  # type: ignore[attr-defined]
        err.print(error_line(str(message)), highlight=False, soft_wrap=True)
        return int(getattr(error, "exit_code", EXIT_ERROR))
    except (typer.Abort, KeyboardInterrupt):
        err.print("interrupted", highlight=False)
        return EXIT_INTERRUPTED
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else (0 if done.code is None else 1)


def main() -> None:
    """Run the CLI, then leave without interpreter finalization.

    The Temporal SDK's native runtime keeps threads that can call back into
    Python while the interpreter is shutting down; that occasionally aborts a
    finished command with "PyGILState_Release ... finalizing" (exit -6) after
    its output was printed. Everything we own is closed by then, so flush and
    exit directly with the command's status (``execbatch.temporal.process_exit``).
    """
    exit_now(run_cli())


if __name__ == "__main__":
    main()
