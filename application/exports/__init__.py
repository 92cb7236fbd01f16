"""Exports: CSV/XLSX files produced by background jobs (the seeds' "task centre", api.md)."""
from application.exports.services import (
    ExportJob,
    ExportKinds,
    ExportService,
    ExportSource,
    ExportStore,
    filter_error,
    filter_moment,
    filter_text,
)

__all__ = ["ExportJob", "ExportKinds", "ExportService", "ExportSource", "ExportStore", "filter_error",
           "filter_moment", "filter_text"]
