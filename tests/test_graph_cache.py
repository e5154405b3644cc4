"""ONNX Runtime sessions keep the graph as they optimised it for this CPU (``cpu_session``),
so the next cold start opens it without optimising again, and scores the same."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

from rankiqa.inference.model.paths import resolve_model_path  # noqa: E402
from rankiqa.inference.scoring.cpu import cpu_session, optimized_graph_path  # noqa: E402


@pytest.fixture()
def graph():
    return resolve_model_path("default").with_suffix(".onnx")


def run(session, x):
    return session.run(["score"], {"image": x})[0]


def test_second_session_opens_the_optimised_graph_and_scores_alike(graph, tmp_path, monkeypatch):
    monkeypatch.setenv("RANKIQA_CACHE", str(tmp_path))
    x = np.random.default_rng(0).random((1, 3, 96, 128), dtype=np.float32)
    cached = optimized_graph_path(graph)
    assert cached.parent == tmp_path / "ort" and not cached.exists()
    first = run(cpu_session(graph, 1), x)
    assert cached.is_file() and cached.stat().st_size > 0
    assert not list(cached.parent.glob(".*.tmp"))  # written under a temporary name, renamed
    inode = cached.stat().st_ino
    second = run(cpu_session(graph, 1), x)
    assert cached.stat().st_ino == inode  # opened, not written again (a rewrite renames anew)
    plain = run(cpu_session(graph, 1, cache=False), x)
    np.testing.assert_allclose(second, plain, atol=1e-5)
    np.testing.assert_allclose(first, plain, atol=1e-5)


def test_damaged_cache_file_is_replaced(graph, tmp_path, monkeypatch):
    monkeypatch.setenv("RANKIQA_CACHE", str(tmp_path))
    cached = optimized_graph_path(graph)
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"not an onnx graph")
    x = np.zeros((1, 3, 64, 64), np.float32)
    got = run(cpu_session(graph, 1), x)
    np.testing.assert_allclose(got, run(cpu_session(graph, 1, cache=False), x), atol=1e-5)
    assert cached.stat().st_size > 1000  # optimised again and kept


def test_unwritable_cache_folder_still_scores(graph, tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder would go")
    monkeypatch.setenv("RANKIQA_CACHE", str(blocker))
    x = np.zeros((1, 3, 64, 64), np.float32)
    assert np.isfinite(run(cpu_session(graph, 1), x)).all()


def test_another_graph_file_gets_another_name(graph, tmp_path):
    copy = tmp_path / "default.onnx"
    copy.write_bytes(graph.read_bytes())
    assert optimized_graph_path(copy, tmp_path) != optimized_graph_path(graph, tmp_path)


def test_cache_folder_keeps_the_most_recently_used_graphs(graph, tmp_path, monkeypatch):
    import os

    from rankiqa.inference.scoring import cpu

    monkeypatch.setenv("RANKIQA_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(cpu._prune, "__defaults__", (2,))  # keep 2 instead of KEEP_OPTIMIZED
    copies = []
    for k in range(3):
        copy = tmp_path / f"g{k}.onnx"
        copy.write_bytes(graph.read_bytes())
        copies.append(copy)
    cpu_session(copies[0], 1)
    cpu_session(copies[1], 1)
    first = optimized_graph_path(copies[0])
    os.utime(first, (1, 1))  # long unused
    cpu_session(copies[2], 1)
    kept = sorted(p.name for p in (tmp_path / "cache" / "ort").glob("*.onnx"))
    assert kept == sorted([optimized_graph_path(copies[1]).name, optimized_graph_path(copies[2]).name])
