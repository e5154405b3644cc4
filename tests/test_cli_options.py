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
    "export": ["a.safetensors", "b.onnx"],
    "map": ["a.jpg", "--output", "o.png"],
    "report": ["--output", "r.html"],
    "features": ["root", "-o", "f.safetensors"],
    "train-head": ["f.safetensors", "-o", "run"],
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
    err = capsys.readouterr().err
    assert err.count("is deprecated") == 5 and "use --resize" in err and "use --crops" in err


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
    assert len(workers) == 5


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
