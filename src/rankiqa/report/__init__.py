"""Seeing quality: quality-map images (overlay, colour bar) and the browsable HTML report."""

from rankiqa.report.html import ReportRow, build_report, read_scores_csv, write_report
from rankiqa.report.overlay import colorize, overlay, resample_map, save_map

__all__ = [
    "ReportRow",
    "build_report",
    "colorize",
    "overlay",
    "read_scores_csv",
    "resample_map",
    "save_map",
    "write_report",
]
