"""The backbone and head tables are the only places that know a backbone or a head; the option
defaults of finetune / train-rank are written once, in their config dataclasses."""

from __future__ import annotations

import ast
import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from rankiqa.cli import build_parser, subcommand_parser
from rankiqa.models.backbones import BACKBONES
from rankiqa.models.head_specs import HEADS, HeadSpec, head_spec
from rankiqa.training.options import FinetuneConfig, RankTrainConfig

SRC = Path(__file__).resolve().parents[1] / "src" / "rankiqa"
COMMANDS = {"finetune": FinetuneConfig, "train-rank": RankTrainConfig}


def option(command: str, flag: str):
    parser = subcommand_parser(build_parser(), command)
    return next(a for a in parser._actions if flag in a.option_strings)


@pytest.mark.parametrize("command", COMMANDS)
def test_cli_choices_and_help_come_from_the_tables(command: str) -> None:
    backbone, head = option(command, "--backbone"), option(command, "--head")
    assert list(backbone.choices) == list(BACKBONES)
    assert list(head.choices) == list(HEADS)
    assert all(name in backbone.help for name in BACKBONES)


@pytest.mark.parametrize(("command", "config"), COMMANDS.items())
def test_cli_defaults_are_the_config_defaults(command: str, config: type, monkeypatch) -> None:
    parser = subcommand_parser(build_parser(), command)
    fields = {f.name: f for f in dataclasses.fields(config)}
    checked = 0
    for action in parser._actions:
        field = fields.get(action.dest)
        if field is None or field.default is dataclasses.MISSING or action.dest == "resume":
            continue
        assert action.default == field.default, action.dest
        checked += 1
    assert checked >= 15
    # a default changed in the config alone reaches the command line and its help
    monkeypatch.setattr(fields["iters"], "default", 1234)
    parser = subcommand_parser(build_parser(), command)
    assert next(a for a in parser._actions if a.dest == "iters").default == 1234
    assert "1234" in parser.format_help()


def test_no_head_name_outside_the_tables() -> None:
    """Abilities are asked of the head spec: no module compares a head name."""
    found = []
    allowed = {"models/head_specs.py", "training/options.py"}
    for path in sorted(SRC.rglob("*.py")):
        if str(path.relative_to(SRC)) in allowed:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Compare):
                names = {n.value for n in ast.walk(node) if isinstance(n, ast.Constant)}
                if names & set(HEADS):
                    found.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert not found, found


def test_head_abilities_drive_the_callers(monkeypatch) -> None:
    pytest.importorskip("torch")
    from rankiqa.inference.export.onnx import supports_dynamic_size
    from rankiqa.inference.model.loading import untrained_model

    model = untrained_model("shallow", "compact", input={"crop_size": 64})
    assert supports_dynamic_size(model)
    fixed = dataclasses.replace(HEADS["compact"], any_size=False)
    monkeypatch.setitem(HEADS, "compact", fixed)
    assert not supports_dynamic_size(model)
    assert head_spec("compact").default_view == "center"


def test_every_head_builds_on_every_backbone() -> None:
    pytest.importorskip("torch")
    from rankiqa.models import build_model

    for name, spec in HEADS.items():
        assert isinstance(spec, HeadSpec) and spec.name == name
        assert type(build_model("shallow", name).head).__name__.lower().startswith(name)


def test_onnx_preference_is_a_backbone_fact() -> None:
    pytest.importorskip("torch")
    from rankiqa.inference.scoring.onnx_runtime import ONNX_PREFERRED

    assert set(ONNX_PREFERRED) == {n for n, s in BACKBONES.items() if s.depthwise}
    assert "efficientnet_lite0" in ONNX_PREFERRED and "alexnet" not in ONNX_PREFERRED


def test_tables_import_no_torch() -> None:
    code = (
        "import sys, rankiqa.models.backbones, rankiqa.models.head_specs, "
        "rankiqa.training.options; print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_every_cited_contract_is_defined() -> None:
    import re

    doc = (SRC.parents[1] / "docs" / "contracts.md").read_text(encoding="utf-8")
    defined = set(re.findall(r"^## Contract (\d+):", doc, flags=re.M))
    cited = set()
    for path in [*SRC.rglob("*.py"), *(SRC.parents[1] / "docs").glob("*.md")]:
        cited |= set(re.findall(r"contracts? (\d+)", path.read_text(encoding="utf-8")))
    assert cited and cited <= defined, cited - defined
