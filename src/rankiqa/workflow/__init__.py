"""A photographer's workflow over scores: group bursts and near-duplicates and pick the best
of each (:mod:`~rankiqa.workflow.cull`), and write ratings into XMP sidecars that Lightroom,
darktable, digiKam and Capture One read (:mod:`~rankiqa.workflow.xmp`).

Layer: above ``inference`` (it scores through it), beside ``report``.
"""
