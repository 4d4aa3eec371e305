"""The ``execbatch`` command line, its commands grouped by job.

* batches (``batches.py``): submit, status, cancel, recover, list;
* stack (``stack.py``): worker, dev, demo;
* venue (``venue.py``): the paper venue;
* security (``security.py``): the codec server;
* risk (``risk.py``): halt, reduce, resume, trading (the kill switch).

The client library (``execbatch.client``) has no CLI code; this package only
renders and reports what it returns.
"""

from __future__ import annotations

import os
import sys

import click
import typer

from execbatch.cli import batches, risk, security, stack, venue

app = typer.Typer(
    name="execbatch",
    help="Durable execution of trading order batches on Temporal.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

app.command()(batches.submit)
app.command()(batches.status)
app.command()(batches.cancel)
app.command()(batches.recover)
app.command("list")(batches.list_batches)
app.command()(stack.worker)
app.command()(stack.dev)
app.command()(stack.demo)
app.command()(venue.venue)
app.command("venue-check")(venue.venue_check)
app.command("codec-server")(security.codec_server)
app.command()(risk.halt)
app.command()(risk.reduce)
app.command()(risk.resume)
app.command()(risk.trading)


def main() -> None:
    """Run the CLI, then leave without interpreter finalization.

    The Temporal SDK's native runtime keeps threads that can call back into
    Python while the interpreter is shutting down; that occasionally aborts a
    finished command with "PyGILState_Release ... finalizing" (exit -6) after
    its output was printed. Everything we own is closed by then, so flush and
    exit directly with the command's status.
    """
    try:
        returned = app(standalone_mode=False)
        code = returned if isinstance(returned, int) else 0
    except click.exceptions.Exit as done:
        code = done.exit_code
    except click.ClickException as error:
        error.show()
        code = error.exit_code
    except click.exceptions.Abort:
        click.echo("Aborted!", err=True)
        code = 1
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
