"""The report in a real browser (headless Chromium): order, no network, a non-blank render.

Skipped when no ``chromium`` is installed (Debian: ``apt-get install chromium``; ``.ci/run``
installs it).
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import rankiqa
from conftest import natural_image
from rankiqa.cli import main
from rankiqa.inference.model.loading import untrained_model
from rankiqa.inference.model.saving import save_model
from rankiqa.report.html import PAGE_SIZE, make_report

CHROMIUM = next(
    (shutil.which(n) for n in ("chromium", "chromium-browser") if shutil.which(n)), None
)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)"
)
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
]
#: requests Chromium makes by itself (time sync, sign-in) have no initiating origin
BROWSER_OWN = "not an origin"


def chromium(tmp_path: Path, page: Path, *args: str, fragment: str = "") -> tuple[str, list[str]]:
    """Run headless Chromium on a file; return its stdout and the network URLs the page asked
    for (from Chromium's net log: requests with an initiator, i.e. started by the page)."""
    profile = tmp_path / f"profile{len(list(tmp_path.glob('profile*')))}"
    netlog = profile.with_suffix(".netlog.json")
    command = [
        CHROMIUM,
        *FLAGS,
        f"--user-data-dir={profile}",
        f"--log-net-log={netlog}",
        "--net-log-capture-mode=Everything",
        *args,
        page.resolve().as_uri() + fragment,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    log = json.loads(netlog.read_text())
    names = {v: k for k, v in log["constants"]["logEventTypes"].items()}
    fetched = []
    for event in log["events"]:
        params = event.get("params") or {}
        started = names.get(event["type"]) == "URL_REQUEST_START_JOB" and "url" in params
        if started and params.get("initiator") != BROWSER_OWN:
            fetched.append(params["url"])
    return done.stdout, fetched


def dom_cards(dom: str) -> list[tuple[str, float]]:
    cards = re.findall(r'<div class="card[^"]*" data-path="([^"]*)" data-score="([^"]*)"', dom)
    return [(html.unescape(path), float(score)) for path, score in cards]


def not_blank(png: Path) -> None:
    pixels = np.asarray(Image.open(png).convert("RGB"), dtype=np.float32)
    assert pixels.std() > 20, "screenshot is (nearly) one colour"
    assert len(np.unique(pixels.reshape(-1, 3).astype(np.uint8), axis=0)) > 500


def test_the_network_check_can_fail(tmp_path: Path) -> None:
    # control: a page that does fetch from the network is caught by the same check
    page = tmp_path / "leaky.html"
    page.write_text('<!DOCTYPE html><img src="http://192.0.2.7/pixel.png"><p>hi</p>')
    _, fetched = chromium(tmp_path, page, "--dump-dom")
    assert "http://192.0.2.7/pixel.png" in fetched


def test_report_in_chromium(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    base = natural_image(240, 360, seed=7)
    import cv2

    variants = {
        "sharp.jpg": base,
        "blurred.jpg": cv2.GaussianBlur(base, (0, 0), 3),
        "noisy.jpg": np.clip(base + np.random.default_rng(0).normal(0, 25, base.shape), 0, 255),
        "other.jpg": natural_image(240, 360, seed=8),
        "dark.jpg": base // 3,
    }
    for name, array in variants.items():
        Image.fromarray(array.astype(np.uint8)).save(folder / name, quality=90)
    Image.fromarray(base).save(folder / "blocky.jpg", quality=5)
    (folder / "broken.jpg").write_bytes(b"not an image")
    model = untrained_model(
        "shallow",
        head="stats",
        input={"resize": 200, "crop_size": 192},
        score={"offset": 50.0, "scale": 10.0},
    )
    model_file = save_model(model, tmp_path / "tiny.safetensors")
    out = tmp_path / "report.html"
    assert main(["report", str(folder), "-o", str(out), "--maps", "-m", str(model_file)]) == 1

    dom, fetched = chromium(tmp_path, out, "--dump-dom")
    assert fetched == []
    assert not re.search(r"https?://", out.read_text())
    model = rankiqa.load_model(model_file)
    expected = sorted(
        ((str(p), model.score(p)) for p in folder.iterdir() if p.name != "broken.jpg"),
        key=lambda item: -item[1],
    )
    cards = dom_cards(dom)
    assert [path for path, _ in cards] == [path for path, _ in expected]  # every image, best first
    assert [s for _, s in cards] == pytest.approx([s for _, s in expected], abs=1e-2)
    assert 'class="error-row" data-path="' + str(folder / "broken.jpg") in dom
    svg = re.search(r'<svg id="hist".*?</svg>', dom, re.S).group(0)
    assert len(re.findall(r'<rect class="bar', svg)) == 20  # the histogram was drawn

    dom, _ = chromium(tmp_path, out, "--dump-dom", fragment="#worst")
    assert [path for path, _ in dom_cards(dom)] == [path for path, _ in reversed(expected)]
    shot = tmp_path / "shot.png"
    _, fetched = chromium(tmp_path, out, f"--screenshot={shot}", "--window-size=1100,800")
    assert fetched == []
    not_blank(shot)


def test_ten_thousand_rows_render_one_page(tmp_path: Path) -> None:
    scores = tmp_path / "scores.csv"
    rows = [f"/nowhere/img{i:05d}.jpg,{(i * 7919) % 10000 / 100:.2f}," for i in range(10_000)]
    scores.write_text("path,score,error\n" + "\n".join(rows) + "\n")
    out = tmp_path / "big.html"
    make_report(out, scores_csv=scores, link=True, worst_first=True)
    dom, fetched = chromium(tmp_path, out, "--dump-dom")
    assert fetched == []
    cards = dom_cards(dom)
    assert len(cards) == PAGE_SIZE  # paged: one page of cards, not 10,000
    assert [s for _, s in cards] == sorted(s for _, s in cards)  # worst first
    assert cards[0][1] == 0.0
    assert "of 10000 (page 1 of" in dom
