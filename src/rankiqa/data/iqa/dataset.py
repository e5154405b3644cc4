"""PyTorch datasets over an :class:`IQATable` following the input protocol (docs/contracts.md contract 4)."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import torch
from torch.utils.data import Dataset

from rankiqa.core.imageio import read_image
from rankiqa.core.preprocess import random_crop, to_float
from rankiqa.core.seeding import generator as step_generator
from rankiqa.data.iqa.records import IQATable
from rankiqa.data.iqa.transforms import eval_views, prepare_uint8


class IQAImages(Dataset):
    """Decoded, resized images of a table as 3×H×W uint8 tensors with their 0–100 targets.

    With ``cache=True`` every image is kept in memory after its first use (call
    :meth:`preload` to fill the cache up front, in threads); useful for the small IQA datasets
    with ``resize`` set (e.g. 1,169 CLIVE images at 256 px ≈ 230 MB).
    """

    def __init__(
        self,
        table: IQATable,
        resize: int | None = None,
        crop_size: int | None = None,
        cache: bool = False,
    ):
        self.table = table
        self.resize = resize
        self.crop_size = crop_size
        self.cache = cache
        self._cache: dict[int, torch.Tensor] = {}

    def __len__(self) -> int:
        return len(self.table)

    def image(self, index: int) -> torch.Tensor:
        if index in self._cache:
            return self._cache[index]
        image = prepare_uint8(
            read_image(self.table.records[index].path), self.resize, self.crop_size or 1
        )
        if self.cache:
            self._cache[index] = image
        return image

    def preload(self, workers: int = 2, progress: bool = False) -> None:
        """Decode every image into the cache (threads: decoding releases the GIL)."""
        self.cache = True
        todo = [i for i in range(len(self)) if i not in self._cache]
        from tqdm import tqdm

        with ThreadPoolExecutor(max(1, workers)) as pool:
            for _ in tqdm(
                pool.map(self.image, todo),
                total=len(todo),
                desc="loading images",
                disable=not progress,
                leave=False,
            ):
                pass

    def __getitem__(self, index: int) -> tuple[torch.Tensor, float]:
        return self.image(index), float(self.table.records[index].target)


class TrainBatches(Dataset):
    """Item ``step`` is training batch ``step``: (B×3×S×S float crops, B targets).

    Which images and where the crops go depend only on (seed, step): images are visited in a
    fresh permutation per epoch (seeded by (seed, epoch)), crops (and, with ``flip``, random
    horizontal flips, which leave quality unchanged) from a (seed, step) generator.
    So a resumed run sees exactly the batches of an uninterrupted one, with any worker count.
    """

    def __init__(
        self, images: IQAImages, batch_size: int, crop_size: int, seed: int, flip: bool = True
    ):
        if len(images) == 0:
            raise ValueError("no training images")
        self.images = images
        self.batch_size = batch_size
        self.crop_size = crop_size
        self.seed = seed
        self.flip = flip

    def __len__(self) -> int:  # effectively unbounded; the sampler picks the steps
        return 2**62

    def indices(self, step: int) -> list[int]:
        n = len(self.images)
        start = step * self.batch_size
        perms: dict[int, list[int]] = {}
        out = []
        for position in range(start, start + self.batch_size):
            epoch, offset = divmod(position, n)
            if epoch not in perms:
                perms[epoch] = torch.randperm(
                    n, generator=step_generator(self.seed, 1, epoch)
                ).tolist()
            out.append(perms[epoch][offset])
        return out

    def __getitem__(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        generator = step_generator(self.seed, 0, step)
        crops, targets = [], []
        for index in self.indices(step):
            image, target = self.images[index]
            crop = random_crop(image, self.crop_size, generator)
            if self.flip and bool(torch.randint(0, 2, (1,), generator=generator)):
                crop = crop.flip(-1)
            crops.append(to_float(crop))
            targets.append(target)
        return torch.stack(crops), torch.tensor(targets, dtype=torch.float32)


class EvalViews(Dataset):
    """Item ``i``: (V×3×h×w float views of image ``i`` for the pooling, its target)."""

    def __init__(self, images: IQAImages, test_crops: str, crop_size: int, seed: int = 0):
        self.images = images
        self.test_crops, self.crop_size, self.seed = test_crops, crop_size, seed

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, float]:
        image, target = self.images[index]
        views = eval_views(image, self.test_crops, self.crop_size, seed=self.seed + index)
        return views, target


def subset_images(images: IQAImages, indices: Sequence[int]) -> IQAImages:
    """An :class:`IQAImages` over ``indices`` of ``images``' table, sharing its cache."""
    sub = IQAImages(images.table.subset(indices), images.resize, images.crop_size, images.cache)
    sub._cache = {j: images._cache[i] for j, i in enumerate(indices) if i in images._cache}
    return sub
