"""Command-line conventions: exit codes, one-line errors, common flags, JSON envelope."""

import io
import json
import sys

import pytest

from shared import cli, output


def make(body, **kwargs):
    parser = cli.make_parser("demo", "a demo tool", "  demo --json\n", **kwargs)
    return lambda argv: cli.run_main("demo", parser, body, argv, polite=False)


def test_tool_error_is_one_line_with_cause_and_fix(capsys):
    def body(args):
        raise cli.ToolError("cannot read /var/log/messages", "permission denied", "run as root", code=3)
    assert make(body)([]) == 3
    err = capsys.readouterr().err
    assert err == "demo: cannot read /var/log/messages (permission denied; run as root)\n"


def test_internal_error_never_shows_a_traceback_unless_debug(capsys):
    def body(args):
        return {}["missing"]
    assert make(body)([]) == cli.EXIT_FINDINGS
    err = capsys.readouterr().err
    assert "Traceback" not in err and "internal error: KeyError" in err and "--debug" in err
    assert make(body)(["--debug"]) == cli.EXIT_FINDINGS
    assert "Traceback" in capsys.readouterr().err


def test_usage_errors_exit_2_and_name_the_help(capsys):
    assert make(lambda a: 0)(["--since", "last tuesday"]) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "not a time" in err and "demo --help" in err
    assert make(lambda a: 0)(["--bogus"]) == cli.EXIT_USAGE


def test_interrupt_exits_130(capsys):
    def body(args):
        raise KeyboardInterrupt
    assert make(body)([]) == cli.EXIT_INTERRUPTED
    assert capsys.readouterr().err == "demo: interrupted\n"


def test_help_shows_examples_and_exit_table(capsys):
    assert make(lambda a: 0)(["--help"]) == 0
    out = capsys.readouterr().out
    assert "examples:\n  demo --json" in out
    assert "130  interrupted" in out and "--root DIR" in out


def test_version_names_tool_version_and_source_hash(capsys):
    assert make(lambda a: 0)(["--version"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("demo 0.") and "sources " in out


def test_time_window_and_fail_on():
    parser = cli.make_parser("demo", "x", fail_on=("unclean", "panic"))
    args = parser.parse_args(["--since", "2024-06-09 06:00", "--utc", "--fail-on", "unclean"])
    since, until = cli.time_window(args)
    assert since == 1717912800 and until is None
    assert cli.fail_on_values(args, ("unclean", "panic")) == {"unclean"}
    args = parser.parse_args(["--fail-on", "nonsense"])
    with pytest.raises(cli.ToolError) as error:
        cli.fail_on_values(args, ("unclean", "panic"))
    assert error.value.code == cli.EXIT_USAGE


def test_json_envelope_is_pure_json(capsys):
    def body(args):
        output.emit_json("demo", {"boots": []}, warnings=["var/log/x: truncated"], source="/")
        return 0
    assert make(body)(["--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert set(document) == {"tool", "version", "schema", "host", "generated", "source", "warnings", "result"}
    assert document["tool"] == "demo" and document["schema"] == 1
    assert document["generated"].endswith("Z") and document["warnings"] == ["var/log/x: truncated"]


def test_output_survives_an_ascii_only_stdout():
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="ascii")
    output.write("caf\u00e9 \ufffd\n", stream)
    stream.flush()
    assert raw.getvalue() == b"caf? ?\n"


def test_colour_only_on_a_terminal_and_never_with_no_color(monkeypatch):
    class Tty(io.StringIO):
        def isatty(self):
            return True
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert output.use_colour(Tty())
    assert not output.use_colour(io.StringIO())
    monkeypatch.setenv("NO_COLOR", "")
    assert not output.use_colour(Tty())


def test_table_fits_80_columns():
    rows = [["1", "2024-06-09 06:06:20 UTC", "x" * 120]]
    text = output.table(rows, ["#", "start", "evidence"], flexible=2)
    assert max(len(line) for line in text.splitlines()) <= 80
    assert text.splitlines()[1].endswith("~")


def test_broken_pipe_is_not_an_error(capsys):
    def body(args):
        raise BrokenPipeError
    if not hasattr(sys.stdout, "fileno"):
        pytest.skip("stdout has no file descriptor here")
    assert make(body)([]) == 0
