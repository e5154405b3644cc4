"""Model files: safetensors + JSON metadata, loaded without unpickling."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageFilter

from conftest import natural_image
from rankiqa.core.errors import UserError
from rankiqa.core.model_file import (
    SQUASH_CENTER,
    SQUASH_WIDTH,
    read_metadata,
    read_model_file,
    save_model_file,
)
from rankiqa.inference import load_model
from rankiqa.inference.model.loading import untrained_model
from rankiqa.inference.model.paths import packaged_models_dir
from rankiqa.inference.model.saving import export_checkpoint, save_model

TINY_INPUT = {"resize": 200, "test_crops": "center", "crop_size": 192}


def tiny_model(seed: int = 0):
    """A random shallow+compact model (fast; meaningless scores)."""
    return untrained_model(
        "shallow", input=TINY_INPUT, score={"offset": 50.0, "scale": 10.0}, seed=seed
    )


def test_roundtrip_keeps_weights_metadata_and_scores(tmp_path: Path, image: np.ndarray) -> None:
    model = tiny_model()
    path = save_model(model, tmp_path / "m.safetensors")
    metadata = read_metadata(path)
    assert metadata["format"] == "rankiqa-model" and metadata["version"] == 1
    assert metadata["model_config"]["backbone"] == "shallow"
    assert metadata["input"] == TINY_INPUT
    assert metadata["score"]["direction"] == "higher is better"
    assert metadata["rankiqa_version"]
    loaded = load_model(path)
    for key, value in model.net.state_dict().items():
        assert torch.equal(loaded.net.state_dict()[key], value)
    assert loaded.score(image) == pytest.approx(model.score(image), abs=1e-6)
    assert not loaded.training


def test_loading_never_unpickles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, image) -> None:
    path = save_model(tiny_model(), tmp_path / "m.safetensors")

    def refuse(*args, **kwargs):
        raise AssertionError("unpickling attempted")

    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    monkeypatch.setattr(torch, "load", refuse)
    model = load_model(str(path))
    assert isinstance(model.score(image), float)


def test_bad_model_files_give_user_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="not found"):
        load_model(tmp_path / "missing.safetensors")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x00\x01 this is not safetensors")
    with pytest.raises(UserError, match="junk.safetensors"):
        load_model(junk)
    from safetensors.torch import save_file

    bare = tmp_path / "bare.safetensors"
    save_file({"w": torch.zeros(2)}, str(bare))
    with pytest.raises(UserError, match="without rankiqa metadata"):
        load_model(bare)
    state, metadata = read_model_file(save_model(tiny_model(), tmp_path / "ok.safetensors"))
    wrong = dict(metadata, version=99)
    other = tmp_path / "v99.safetensors"
    save_file(state, str(other), metadata={"rankiqa": json.dumps(wrong)})
    with pytest.raises(UserError, match="version"):
        load_model(other)
    with pytest.raises(UserError, match="does not|do not match"):
        bad = dict(state)
        bad.pop(next(iter(bad)))
        save_model_file(tmp_path / "missing_tensor.safetensors", bad, metadata)
        load_model(tmp_path / "missing_tensor.safetensors")
    with pytest.raises(UserError, match="test crops"):
        save_model_file(
            tmp_path / "x.safetensors", state, dict(metadata, input={"test_crops": "x"})
        )
    with pytest.raises(UserError, match="not found|packaged"):
        load_model("no-such-model")


def test_checkpoint_loads_and_exports(tmp_path: Path, image: np.ndarray) -> None:
    from rankiqa.core.checkpoint import save_checkpoint

    model = tiny_model()
    ckpt = tmp_path / "best.pt"
    save_checkpoint(
        ckpt,
        {
            "kind": "finetune",
            "model_config": model.net.config,
            "model": model.net.state_dict(),
            "step": 7,
            "args": {"resize": 200, "test_crops": "center", "crop_size": 192},
            "metrics": {"val_srocc": 0.7},
            "score": {"offset": 50.0, "scale": 10.0},
        },
    )
    from_ckpt = load_model(ckpt)
    assert from_ckpt.protocol.to_dict() == TINY_INPUT
    assert from_ckpt.score(image) == pytest.approx(model.score(image), abs=1e-5)
    out = export_checkpoint(ckpt, tmp_path / "m.safetensors", name="mine", metrics={"note": 1})
    metadata = read_metadata(out)
    assert metadata["name"] == "mine"
    assert metadata["metrics"] == {"val_srocc": 0.7, "note": 1}
    assert metadata["training"]["kind"] == "finetune" and metadata["training"]["step"] == 7
    assert load_model(out).score(image) == pytest.approx(model.score(image), abs=1e-5)


def test_untrained_model_says_so() -> None:
    model = untrained_model("shallow", input={"crop_size": 192})
    assert "untrained" in model.metadata["training"]["recipe"]


def test_packaged_default_model(image: np.ndarray) -> None:
    path = packaged_models_dir() / "default.safetensors"
    assert path.is_file(), f"{path}: the packaged default model is missing (package data lost?)"
    assert path.stat().st_size <= 25 * 1000 * 1000  # the packaged weights' budget
    metadata = read_metadata(path)
    assert metadata["score"]["range"] == [0, 100]
    assert metadata["score"]["direction"] == "higher is better"
    assert metadata["metrics"] and metadata["training"]
    model = load_model()
    sharp = drawn_scene(256, 320)
    blurred = np.asarray(Image.fromarray(sharp).filter(ImageFilter.GaussianBlur(4)))
    # compared before the logistic squash (SQUASH_CENTER/WIDTH): a drawing scores near the
    # floor, where the squash compresses every difference (9.9 -> 0.2 is ~100 points there)
    def linear(score: float) -> float:
        p = min(max(score / 100.0, 1e-9), 1 - 1e-9)
        return SQUASH_CENTER + SQUASH_WIDTH * float(np.log(p / (1 - p)))

    assert metadata["score"]["squash"] == "logistic"
    assert model.score(blurred) < model.score(sharp)
    assert linear(model.score(blurred)) < linear(model.score(sharp)) - 10


def drawn_scene(height: int, width: int, seed: int = 0) -> np.ndarray:
    """Discs and rectangles with crisp edges over smooth gradients, no fine random texture
    (which the default model, trained to rank noise, reads as noise)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    ramps = [0.4 + 0.3 * yy / height, 0.5 + 0.2 * xx / width, 0.6 - 0.2 * yy / height]
    img = np.stack(ramps, axis=2)
    for _ in range(25):
        cx, cy, r = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(8, 60)
        mask = np.clip(r - np.hypot(xx - cx, yy - cy), 0, 1)[..., None]
        img = img * (1 - mask) + rng.uniform(0, 1, 3) * mask
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)


@pytest.mark.shared
def test_packaged_default_model_ranks_distortion_levels(shared_dir: Path) -> None:
    """On real photos, every level of blur, noise, JPEG and JPEG 2000 lowers the score.

    (Synthetic textures are outside the photos the model was trained on: it reads their fine
    random detail as noise, so a real photograph is used.)
    """
    path = packaged_models_dir() / "default.safetensors"
    assert path.is_file(), f"{path}: the packaged default model is missing (package data lost?)"
    from rankiqa.core.imageio import read_image
    from rankiqa.distortions import LIVE

    model = load_model()
    for name in ("kodim03.png", "kodim14.png"):
        image = read_image(shared_dir / "data/reference/kodak" / name)
        rng = np.random.default_rng(0)
        for group in ("gblur", "wn", "jpeg", "jp2k"):
            scores = [model.score(image)]
            scores += [model.score(LIVE[group](image, k, rng)) for k in range(1, 6)]
            assert scores == sorted(scores, reverse=True), (name, group, scores)


def test_read_metadata_loads_no_tensor(tmp_path: Path, monkeypatch) -> None:
    import safetensors

    path = save_model(tiny_model(), tmp_path / "m.safetensors")
    real_open = safetensors.safe_open
    loaded: list[str] = []

    class Recording:
        def __init__(self, *args, **kwargs):
            self.handle = real_open(*args, **kwargs)

        def __enter__(self):
            self.inner = self.handle.__enter__()
            return self

        def __exit__(self, *exc):
            return self.handle.__exit__(*exc)

        def get_tensor(self, name):
            loaded.append(name)
            return self.inner.get_tensor(name)

        def __getattr__(self, name):
            return getattr(self.inner, name)

    monkeypatch.setattr(safetensors, "safe_open", Recording)
    assert read_metadata(path)["format"] == "rankiqa-model"
    assert loaded == []
    state, _ = read_model_file(path)
    assert sorted(loaded) == sorted(state) and state


def test_truncated_or_tampered_model_file_and_checkpoint_fail_in_one_line(
    tmp_path: Path, capsys
) -> None:
    from rankiqa.cli import main

    model = tiny_model()
    good = save_model(model, tmp_path / "m.safetensors").read_bytes()
    ckpt = tmp_path / "c.pt"
    torch.save({"kind": "finetune", "model": model.net.state_dict()}, ckpt)
    ckpt_bytes = ckpt.read_bytes()
    img = tmp_path / "a.png"
    Image.fromarray(natural_image(64, 64)).save(img)
    rng = np.random.default_rng(0)
    cases = []
    for data, suffix in ((good, ".safetensors"), (ckpt_bytes, ".pt")):
        header = 8 + int.from_bytes(data[:8], "little") if suffix == ".safetensors" else 64
        for cut in (0, 4, 8, 20, header - 1, header + 10, len(data) // 2, len(data) - 1):
            cases.append((data[:cut], suffix))
        for offset in (*rng.integers(0, min(header, len(data)), 6), 0, 3, 8, 9):
            flipped = bytearray(data)
            flipped[int(offset)] ^= 0xFF
            cases.append((bytes(flipped), suffix))
    for k, (data, suffix) in enumerate(cases):
        path = tmp_path / f"bad{k}{suffix}"
        path.write_bytes(data)
        code = main(["score", str(img), "-m", str(path), "-f", "csv"])
        out, err = capsys.readouterr()
        if code == 0:  # a flipped byte in the weights: still a valid file
            continue
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and lines[0].startswith("rankiqa: error:"), (k, err)
        assert str(path) in lines[0] and out == ""
