"""Exports: CSV/XLSX files produced by background jobs (the seeds' "task centre", api.md)."""
from application.exports.services import ExportJob, ExportKinds, ExportService, ExportSource, ExportStore

__all__ = ["ExportJob", "ExportKinds", "ExportService", "ExportSource", "ExportStore"]
