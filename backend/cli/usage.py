"""Usage errors in one line, in our words, and help that shows what to type.

Typer builds on click, but recent typers ship their own private copy of it
(``typer._click``), so ``click.ClickException`` is not the class a typer app
raises. The classes are taken from ``typer.BadParameter``'s ancestry instead,
which is right for either kind of typer.

Every way to misuse a command (an unknown command or option, a missing
argument, a bad choice or type, an extra argument) ends in one line on stderr:
what was wrong, the valid choices, and the ``--help`` to read; exit code 2.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Sequence
from enum import Enum
from typing import Any, TypeVar

import typer
from typer.core import TyperCommand, TyperGroup

E = TypeVar("E", bound=Enum)


def _click_class(name: str) -> type[Exception]:
    for cls in typer.BadParameter.__mro__:
        if cls.__name__ == name and issubclass(cls, Exception):
            return cls
    raise RuntimeError(f"typer.BadParameter has no {name} ancestor")  # pragma: no cover


ClickException = _click_class("ClickException")
"""The base of every error the command-line parser raises, whichever click typer uses."""
UsageError = _click_class("UsageError")
"""The parser's usage errors (unknown command or option, missing or bad value)."""


class Misuse(typer.BadParameter):
    """A usage error already worded for the user: printed as it is."""


def _flag_forms(param: Any) -> str:
    return "/".join([*param.opts, *getattr(param, "secondary_opts", [])])


def _options_of(ctx: Any) -> list[str]:
    command = ctx.command
    return [
        _flag_forms(param)
        for param in command.get_params(ctx)
        if getattr(param, "param_type_name", "") == "option" and "--help" not in param.opts
    ]


def _argument_name(param: Any) -> str:
    return str(param.metavar or param.name.upper())


def _command_path(ctx: Any) -> str:
    return str(ctx.command_path) if ctx is not None else "execbatch"


def _param_label(error: Any) -> str:
    param = getattr(error, "param", None)
    if param is None:
        return str(getattr(error, "param_hint", "") or "")
    if getattr(param, "param_type_name", "") == "argument":
        return _argument_name(param)
    return _flag_forms(param)


def _quoted(values: Iterable[str]) -> str:
    return ", ".join(values)


def describe(error: Exception) -> str:
    """One line for a usage error: what was wrong, the choices, the ``--help`` to read."""
    ctx = getattr(error, "ctx", None)
    kind = type(error).__name__
    message = str(getattr(error, "message", "") or error)
    if isinstance(error, Misuse):
        label = _param_label(error) if getattr(error, "param", None) is not None else ""
        detail = f"{label}: {message}" if label else message
    elif kind == "NoSuchOption":
        option = getattr(error, "option_name", message)
        options = _options_of(ctx) if ctx is not None else []
        close = difflib.get_close_matches(option, [o.split("/")[0] for o in options], n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        where = f"`{_command_path(ctx)}`"
        detail = (
            f"{where} has no option {option}{hint}; its options: {_quoted(options)}"
            if options
            else f"{where} has no option {option}{hint}; it has only --help"
        )
    elif kind == "MissingParameter":
        param = getattr(error, "param", None)
        if param is not None and getattr(param, "param_type_name", "") == "argument":
            help_text = str(getattr(param, "help", None) or "").rstrip(".")
            about = f": {help_text[:1].lower()}{help_text[1:]}" if help_text else ""
            detail = f"missing {_argument_name(param)}{about}"
        else:
            detail = f"missing {_param_label(error) or 'a required value'}"
    elif kind == "BadOptionUsage":
        option = getattr(error, "option_name", "")
        if "requires an argument" in message:
            detail = f"{option} needs a value"
        elif "does not take a value" in message:
            detail = f"{option} is a flag and takes no value"
        else:
            detail = message
    elif kind == "BadParameter":
        label = _param_label(error)
        text = message.removeprefix("Value error, ")
        detail = f"{label}: {text}" if label else text
    else:
        detail = message.rstrip(".")
    return f"{detail} (see `{_command_path(ctx)} --help`)"


def choice(enum: type[E], what: str) -> Callable[[str], E]:
    """A parser for an enum option: any case, and a refusal that lists the choices."""
    names = [member.value for member in enum]

    def parse(value: str | E) -> E:
        if isinstance(value, enum):
            return value
        text = str(value).strip().upper()
        for member in enum:
            if member.value == text:
                return member
        raise Misuse(f"{value!r} is not {what}; choose from {_quoted(names)}")

    return parse


def whole_number(minimum: int | None = None) -> Callable[[str], int]:
    """A parser for an integer option, with its lower bound, in our words."""

    def parse(value: str | int) -> int:
        try:
            number = int(str(value).strip())
        except ValueError:
            raise Misuse(f"{value!r} is not a whole number") from None
        if minimum is not None and number < minimum:
            raise Misuse(f"{number} is too small; the least is {minimum}")
        return number

    return parse


def seconds(value: str | float) -> float:
    """A parser for a number of seconds (``2``, ``0.5``), never negative."""
    try:
        number = float(str(value).strip())
    except ValueError:
        raise Misuse(f"{value!r} is not a number of seconds") from None
    if number < 0 or number != number:
        raise Misuse(f"{value!r} is not a number of seconds (0 or more)")
    return number


def _quiet_flags(params: Sequence[Any]) -> None:
    """Flags take no value; say nothing where the help shows a value's type."""
    for param in params:
        if getattr(param, "is_flag", False) and getattr(param, "metavar", None) is None:
            param.metavar = ""


class Command(TyperCommand):
    """A command whose extra arguments are refused in our words and whose help shows
    ``FILE`` (not ``{file}``) and flags without a type."""

    def get_params(self, ctx: Any) -> list[Any]:
        params: list[Any] = super().get_params(ctx)
        _quiet_flags(params)
        return params

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces: list[str] = super().collect_usage_pieces(ctx)
        return [p[1:-1] if p.startswith("{") and p.endswith("}") else p for p in pieces]

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        given = list(args)
        allowed = ctx.allow_extra_args
        ctx.allow_extra_args = True  # the extras are refused below, in our words
        try:
            rest: list[str] = super().parse_args(ctx, args)
        except UsageError as error:
            if getattr(error, "ctx", None) is None:  # the option parser's own errors
                error.ctx = ctx  # type: ignore[attr-defined]
            raise
        finally:
            ctx.allow_extra_args = allowed
        if rest and not allowed and not ctx.resilient_parsing:
            raise Misuse(self._extra_message(ctx, rest, given), ctx=ctx)
        return rest

    def _extra_message(self, ctx: Any, rest: list[str], given: list[str]) -> str:
        extra = rest[0]
        more = f" (and {len(rest) - 1} more)" if len(rest) > 1 else ""
        index = given.index(extra) if extra in given else -1
        before = given[index - 1] if index > 0 else None
        for param in self.get_params(ctx):
            if before is not None and getattr(param, "is_flag", False) and before in param.opts:
                forms = " or ".join(_flag_forms(param).split("/"))
                return (
                    f"unexpected argument {extra!r}{more}: {before} is a flag and takes no "
                    f"value (write {forms})"
                )
        arguments = [
            _argument_name(p)
            for p in self.get_params(ctx)
            if getattr(p, "param_type_name", "") == "argument"
        ]
        takes = f"it takes {' '.join(arguments)}" if arguments else "it takes no arguments"
        return f"unexpected argument {extra!r}{more}: {takes}"


class Group(TyperGroup):
    """The top-level group: an unknown command is refused with the list of commands."""

    def get_params(self, ctx: Any) -> list[Any]:
        params: list[Any] = super().get_params(ctx)
        _quiet_flags(params)
        return params

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        name = args[0] if args else None
        if (
            name is not None
            and not name.startswith("-")
            and self.get_command(ctx, name) is None
            and not ctx.resilient_parsing
        ):
            commands = self.list_commands(ctx)
            close = difflib.get_close_matches(name, commands, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise Misuse(f"unknown command {name!r}{hint}; commands: {_quoted(commands)}", ctx=ctx)
        return super().resolve_command(ctx, args)
