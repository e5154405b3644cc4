"""Every option of every subcommand is validated when the command line is parsed: a bad value
ends in the subcommand's usage and one error line naming the option, never a traceback."""

from __future__ import annotations

import argparse

import pytest

from rankiqa.cli import SUBCOMMANDS, argtypes, build_parser, main, subcommand_parser

#: the smallest valid command line of each subcommand (values are never used: parsing only)
REQUIRED = {
    "distort": ["src", "out"],
    "train-rank": ["--data", "d", "--out", "o"],
    "datasets": [],
    "finetune": ["--dataset", "csv", "--root", "r", "--init", "scratch", "--out", "o"],
    "evaluate": ["--model", "m", "--dataset", "csv", "--root", "r"],
    "score": ["a.jpg"],
    "cull": ["a.jpg"],
    "export": ["a.safetensors", "b.onnx"],
    "map": ["a.jpg", "--output", "o.png"],
    "report": ["--output", "r.html"],
    "features": ["root", "-o", "f.safetensors"],
    "train-head": ["f.safetensors", "--out", "run"],
    "ensemble": ["a.safetensors", "b.safetensors", "-o", "e.safetensors"],
    "compare": ["a", "b"],
}

#: values that must be refused by every numeric option
BAD_VALUES = ("-1", "nan", "inf", "text", "1.5x", "")


def numeric_options() -> list[tuple[str, str, argparse.Action]]:
    parser = build_parser()
    found = []
    for name in SUBCOMMANDS:
        sub = subcommand_parser(parser, name)
        for action in sub._actions:
            if action.option_strings and action.type is not None and action.nargs != 0:
                if isinstance(action, argtypes.DeprecatedAlias):
                    continue
                found.append((name, action.option_strings[-1], action))
    return found


OPTIONS = numeric_options()


def test_no_option_uses_bare_int_or_float():
    assert len(OPTIONS) > 40
    bare = [(n, o) for n, o, a in OPTIONS if a.type in (int, float)]
    assert bare == []


@pytest.mark.parametrize("value", BAD_VALUES)
@pytest.mark.parametrize(
    "command, option", [(n, o) for n, o, _ in OPTIONS], ids=lambda x: str(x).lstrip("-")
)
def test_bad_values_are_refused_at_parse_time(command, option, value, capsys):
    if option == "--score-range" and value == "":
        value = ","
    with pytest.raises(SystemExit) as exc:
        main([command, *REQUIRED[command], f"{option}={value}"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith(f"usage: rankiqa {command}")
    assert option in err[-1] and "Traceback" not in "\n".join(err)


def test_zero_is_refused_unless_the_help_says_what_it_means():
    for command, option, action in OPTIONS:
        try:
            value = action.type("0")
        except argparse.ArgumentTypeError:
            continue
        help_text = str(action.help)
        if value == 0 and option not in ("--seed", "--split-index", "--weight-decay"):
            if option in ("--momentum", "--dropout"):
                continue  # 0 is the plain number (no momentum, no dropout)
            assert "0 =" in help_text or "0:" in help_text, (command, option, help_text)


def test_unknown_option_prints_the_subcommands_usage(capsys):
    with pytest.raises(SystemExit):
        main(["score", "a.jpg", "--no-such-option"])
    err = capsys.readouterr().err
    assert err.startswith("usage: rankiqa score") and "--no-such-option" in err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train-rank", "--data", "d", "--out", "o", "--log-every", "0"], "--log-every"),
        (["train-rank", "--data", "d", "--out", "o", "--workers", "-1"], "--workers"),
        (["train-rank", "--data", "d", "--out", "o", "--lr", "-1"], "--lr"),
        (["train-rank", "--data", "d", "--out", "o", "--crop-size", "0"], "--crop-size"),
        (["score", "a.jpg", "--max-pixels", "nan"], "--max-pixels"),
        (["score", "a.jpg", "--threads", "100000"], "--threads"),  # torch segfaulted
        (["train-rank", "--data", "d", "--out", "o", "--workers", "100000"], "--workers"),
        (["finetune", *REQUIRED["finetune"], "--val-fraction", "1"], "--val-fraction"),
        (["score", "a.jpg", "--min-score", "120"], "--min-score"),  # scores lie in 0-100
        (["report", "a.jpg", "--max-score", "100.5"], "--max-score"),
    ],
)
def test_reported_bad_values(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2 and message in capsys.readouterr().err


def test_library_refuses_what_the_parser_refuses(tmp_path):
    from rankiqa.core.errors import UserError
    from rankiqa.training.options import RankTrainConfig
    from rankiqa.training.rank import train_rank

    for bad in ({"log_every": 0}, {"workers": -1}, {"lr": -1.0}, {"lr": float("nan")}):
        config = RankTrainConfig(data=str(tmp_path), out=str(tmp_path / "run"), **bad)
        option = "--" + next(iter(bad)).replace("_", "-")
        with pytest.raises(UserError, match=option):
            train_rank(config)


def test_deprecated_aliases_still_work_with_a_warning(capsys):
    parser = build_parser()
    args = parser.parse_args(["export", "a.pt", "b.safetensors", "--input-resize", "256"])
    assert args.resize == 256
    args = parser.parse_args(
        ["export", "a.pt", "b.safetensors", "--test-crops", "30", "-f", "onnx"]
    )
    assert args.test_crops == "crops:30" and args.format == "onnx"
    args = parser.parse_args(["finetune", *REQUIRED["finetune"], "--test-crops", "center"])
    assert args.test_crops == "center"
    args = parser.parse_args(["evaluate", *REQUIRED["evaluate"], "--test-crops", "30"])
    assert args.crops == "crops:30"
    args = parser.parse_args(["evaluate", *REQUIRED["evaluate"], "--out", "r.json"])
    assert args.output == "r.json"
    err = capsys.readouterr().err
    assert "--out is deprecated; use --output" in err
    assert err.count("is deprecated") == 6 and "use --resize" in err and "use --crops" in err


def test_common_options_share_names_and_defaults():
    parser = build_parser()
    devices, workers = set(), {}
    for name in SUBCOMMANDS:
        options = {a.dest: a for a in subcommand_parser(parser, name)._actions}
        if "device" in options:
            devices.add((options["device"].default, options["device"].help))
        if "workers" in options:
            workers[name] = options["workers"].type
    assert len(devices) == 1 and next(iter(devices))[0] is None  # auto everywhere
    assert set(workers.values()) == {argtypes.worker_count}
    assert len(workers) == 6  # score, cull, distort, train-rank, finetune, evaluate


@pytest.mark.parametrize(
    "argv",
    [
        ["train-rank", "--data", "d", "--out", "o", "--crop-size", "100000"],
        ["finetune", *REQUIRED["finetune"], "--crop-size", "100000"],
        ["finetune", *REQUIRED["finetune"], "--resize", "100000"],
        ["evaluate", *REQUIRED["evaluate"], "--crop-size", "100000"],
    ],
)
def test_absurd_sizes_are_refused(argv, capsys):
    with pytest.raises(SystemExit):
        main(argv)
    assert "8192" in capsys.readouterr().err


# ----------------------------------------------------------------------------- docs/cli.md


def _cli_table() -> list[tuple[list[str], list[str], set[str]]]:
    """Rows of docs/cli.md's option table: (long options, short options, subcommands)."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "cli.md").read_text("utf-8")
    table = text.split("| option | subcommands |", 1)[1].split("\n\n", 1)[0]
    rows = []
    for line in table.splitlines()[2:]:
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        longs = re.findall(r"`(--[a-z][a-z0-9-]*)", cells[0])
        shorts = re.findall(r"`(-[a-zA-Z])`", cells[0])
        commands = {c for c in re.findall(r"[a-z][a-z-]*", cells[1]) if c in SUBCOMMANDS}
        rows.append((longs, shorts, commands))
    return rows


def _options_by_command() -> dict[str, dict[str, tuple[str, ...]]]:
    """subcommand -> {long option: all its spellings} (deprecated aliases and -h left out)."""
    parser = build_parser()
    found: dict[str, dict[str, tuple[str, ...]]] = {}
    for name in SUBCOMMANDS:
        found[name] = {}
        for action in subcommand_parser(parser, name)._actions:
            if isinstance(action, argtypes.DeprecatedAlias | argparse._HelpAction):
                continue
            longs = [o for o in action.option_strings if o.startswith("--")]
            if longs:
                found[name][longs[0]] = tuple(action.option_strings)
    return found


def test_cli_table_is_the_source_of_shared_option_names():
    rows, actual = _cli_table(), _options_by_command()
    assert len(rows) > 20
    # the table covers every subcommand
    assert set().union(*(commands for _, _, commands in rows)) == set(SUBCOMMANDS)
    # each documented option is on exactly the subcommands its rows name
    documented: dict[str, set[str]] = {}
    for longs, _, commands in rows:
        for option in longs:
            documented.setdefault(option, set()).update(commands)
    for option, commands in documented.items():
        having = {name for name, options in actual.items() if option in options}
        assert having == commands, (option, sorted(having ^ commands))
    # an option two subcommands share is one idea: it must have a row
    shared = {o for opts in actual.values() for o in opts}
    shared = {o for o in shared if sum(o in opts for opts in actual.values()) > 1}
    assert shared - set(documented) == set()
    # the same spellings wherever the idea appears, and a short flag means one option only
    for longs, shorts, commands in rows:
        if len(longs) == 1 and shorts:
            for name in commands:
                assert set(actual[name][longs[0]]) >= {longs[0], *shorts}, (name, longs[0])
    meaning: dict[str, str] = {}
    for options in actual.values():
        for option, spellings in options.items():
            for short in (s for s in spellings if not s.startswith("--")):
                assert meaning.setdefault(short, option) == option, (short, option)
    assert meaning["-o"] == "--output" and meaning["-m"] == "--model"
