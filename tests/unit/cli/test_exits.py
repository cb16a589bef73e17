"""One wrapper turns an error into its exit code: a `GraphrecError` or `Neo4jError` becomes a message and its
code, hints commands add are appended, anything else keeps its traceback."""

from __future__ import annotations

import signal

import pytest
import typer
from neo4j.exceptions import ClientError
from typer.testing import CliRunner

from graphrec.cli.exits import CommandError, ExitOnError, hint, user_errors
from graphrec.cli.lock import stopping
from graphrec.db.cypher import CypherFileError
from graphrec.db.graph import Neo4jUnavailable
from graphrec.db.local import LocalNeo4jError
from graphrec.db.lock import EXIT_CODE, LockHeld, LockLost, Stopped
from graphrec.db.mapping import MappingError
from graphrec.errors import GraphrecError
from graphrec.ingest.download import DownloadError
from graphrec.ingest.load import LoadError
from graphrec.ingest.movielens import LayoutError
from graphrec.ingest.records import BadInput
from graphrec.learn.sync import SyncError
from graphrec.serving.coldstart import ColdStartError
from graphrec.serving.recommend import UnknownNode
from graphrec.serving.vector_index import IndexTimeout
from graphrec.serving.versions import VersionError
from graphrec.serving.warm_start import WarmStartUnavailable
from graphrec.serving.writeback import WritebackError

probe = typer.Typer(cls=ExitOnError, pretty_exceptions_enable=False)


@probe.command()
def lock() -> None:
    """Fail as the job lock does, with the hint `graphrec writeback` adds."""
    with hint(LockHeld, "; nothing was written"):
        raise LockHeld("held by host:1")


@probe.command()
def option(value: str) -> None:
    """Let a library reject an option value with a builtin error."""
    with user_errors(ValueError, prefix="bad value: "):
        if value == "mapping":
            raise MappingError("bad label 'a b'")
        int(value)


@probe.command()
def server() -> None:
    """Fail as the server does when it refuses a query."""
    raise ClientError("Invalid input 'MATC'")


@probe.command()
def bug() -> None:
    """Fail as a bug does."""
    raise KeyError("no such column")


runner = CliRunner()


def test_an_error_exits_with_its_code_and_message_plus_hints() -> None:
    result = runner.invoke(probe, ["lock"])
    assert result.exit_code == EXIT_CODE == 3
    assert "error: held by host:1; nothing was written" in result.stderr
    assert result.stdout == ""


def test_a_rejected_option_value_is_a_message_not_a_traceback() -> None:
    result = runner.invoke(probe, ["option", "x"])
    assert result.exit_code == 1
    assert "error: bad value: invalid literal for int() with base 10: 'x'" in result.stderr
    assert isinstance(result.exception, SystemExit)


def test_a_graphrec_error_passes_user_errors_unchanged() -> None:
    result = runner.invoke(probe, ["option", "mapping"])
    assert result.exit_code == 1
    assert "error: bad label 'a b'" in result.stderr
    assert "bad value" not in result.stderr


def test_the_servers_refusal_is_a_message() -> None:
    result = runner.invoke(probe, ["server"])
    assert result.exit_code == 1
    assert "Invalid input 'MATC'" in result.stderr


def test_anything_else_keeps_its_traceback() -> None:
    result = runner.invoke(probe, ["bug"])
    assert isinstance(result.exception, KeyError)
    assert "error:" not in result.stderr


@pytest.mark.parametrize(
    ("error", "builtin", "code"),
    [
        (BadInput, ValueError, 1),
        (LayoutError, ValueError, 1),
        (LoadError, RuntimeError, 1),
        (DownloadError, RuntimeError, 1),
        (MappingError, ValueError, 1),
        (CypherFileError, LookupError, 1),
        (Neo4jUnavailable, RuntimeError, 1),
        (LocalNeo4jError, RuntimeError, 1),
        (LockHeld, RuntimeError, EXIT_CODE),
        (LockLost, RuntimeError, EXIT_CODE),
        (SyncError, RuntimeError, 1),
        (WritebackError, RuntimeError, 1),
        (IndexTimeout, TimeoutError, 1),
        (VersionError, RuntimeError, 1),
        (ColdStartError, RuntimeError, 1),
        (WarmStartUnavailable, RuntimeError, 1),
        (UnknownNode, LookupError, 4),
        (CommandError, Exception, 1),
    ],
)
def test_user_facing_errors_share_one_base_and_keep_their_builtin_one(
    error: type[Exception], builtin: type[Exception], code: int
) -> None:
    assert issubclass(error, GraphrecError)
    assert issubclass(error, builtin)
    assert error.exit_code == code  # type: ignore[attr-defined]


def test_a_signal_wrapped_on_its_way_up_still_exits_with_its_code() -> None:
    """What Python 3.11 raises when SIGTERM lands while a dataclass is defined (a lazy import): a
    RuntimeError caused by the interrupt; `graphrec writeback` and the demo stop with 143 all the same."""

    def lazy_import() -> None:
        try:
            raise Stopped(signal.SIGTERM)
        except Stopped as exc:
            raise RuntimeError("Error calling __set_name__ on 'Field' instance") from exc

    with pytest.raises(typer.Exit) as stopped, stopping("nothing was activated"):
        lazy_import()
    assert stopped.value.exit_code == 143
    with pytest.raises(RuntimeError, match="not a signal"), stopping("nothing was activated"):
        raise RuntimeError("not a signal")
