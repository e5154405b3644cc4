"""The input protocol (resize rule, views, normalisation to [0, 1]) is written three times —
torch (``core.preprocess``), NumPy (``inference.scoring.views``, the light install) and ONNX
operators (``inference.export.protocol``, ``--with-preprocessing``) — over one declarative
:class:`~rankiqa.core.protocol.InputProtocol` and its arithmetic (``resized_size``,
``crop_offsets``). This test holds the three to 1e-4 on random sizes, aspect ratios and modes."""

from __future__ import annotations

import numpy as np
import pytest

from image_fixtures import natural_image
from rankiqa.core.preprocess import image_views as torch_views
from rankiqa.core.preprocess import to_float_tensor
from rankiqa.core.protocol import InputProtocol
from rankiqa.inference.scoring.views import image_views as numpy_views

#: views the three paths share (``crops:N``, random crops, has no NumPy or ONNX form)
MODES = ("full", "center", "grid:2", "grid:3")


def random_cases(count: int, seed: int = 27, noise: bool = False):
    """(protocol, uint8 image) pairs: sizes 32-2000 px, aspect ratios up to 4:1 either way,
    downscaling, upscaling (shorter side below the crop) and no resize; photo-like images, or
    white noise (``noise``: the worst case for resampling)."""
    rng = np.random.default_rng(seed)
    for index in range(count):
        shorter = int(rng.integers(32, 500))
        longer = int(shorter * rng.uniform(1.0, 4.0))
        height, width = (shorter, longer) if rng.random() < 0.5 else (longer, shorter)
        crop = int(rng.choice([32, 64, 96, 224]))
        resize = [None, int(rng.integers(crop, 3 * crop + 1))][index % 3 != 0]
        protocol = InputProtocol(resize=resize, test_crops=MODES[index % 4], crop_size=crop)
        if noise:
            yield protocol, rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        else:
            yield protocol, natural_image(height, width, seed=index)


CASES = list(random_cases(24))


@pytest.mark.parametrize(
    ("protocol", "image"),
    CASES + list(random_cases(12, seed=28, noise=True)),
    ids=lambda v: getattr(v, "test_crops", ""),
)
def test_numpy_views_equal_torch_views(protocol: InputProtocol, image: np.ndarray) -> None:
    expected = torch_views(to_float_tensor(image), protocol).numpy()
    got = numpy_views(image, protocol)
    assert got.shape == expected.shape, (protocol, image.shape)
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)


def test_onnx_views_equal_torch_views() -> None:
    """The ONNX graph of the protocol (what ``--with-preprocessing`` exports) on the same cases
    (the onnx package builds it: the torch extra). Photo-like images only: on white noise
    ONNX Runtime's float32 resampling coordinates drift up to 1.2e-4 from torch's on large
    slight upscales (measured), while NumPy stays within 2e-7."""
    pytest.importorskip("onnx")
    import onnxruntime

    from rankiqa.inference.export.protocol import protocol_graph

    for protocol, image in CASES:
        graph = protocol_graph(protocol).SerializeToString()
        session = onnxruntime.InferenceSession(graph, providers=["CPUExecutionProvider"])
        got = session.run(["views"], {"image": image})[0]
        expected = torch_views(to_float_tensor(image), protocol).numpy()
        assert got.shape == expected.shape, (protocol, image.shape)
        np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0, err_msg=str(protocol))
