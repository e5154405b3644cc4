"""IQA datasets with human opinion scores: loaders, records and the input protocol.

``load_iqa_dataset(name, root)`` returns an :class:`IQATable` whose records carry the raw
score and the 0–100, higher-is-better ``target`` that fine-tuning regresses (docs/contracts.md contract 3).
The torch datasets and the input protocol (contract 4) live in ``rankiqa.data.iqa.dataset``
and ``rankiqa.data.iqa.transforms`` (they import torch).
"""

from rankiqa.data.iqa.records import IQARecord, IQATable, denormalise, normalise
from rankiqa.data.iqa.registry import DATASETS, DatasetInfo, load_iqa_dataset

__all__ = [
    "DATASETS",
    "DatasetInfo",
    "IQARecord",
    "IQATable",
    "denormalise",
    "load_iqa_dataset",
    "normalise",
]
