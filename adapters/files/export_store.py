"""Export files on local disk (``AGORA_STORAGE_DIR/exports``). Use shared storage (NFS, a
bucket mount) when web and worker processes run on different hosts."""
from __future__ import annotations

import os
import re
from pathlib import Path

from application.exports import ExportStore

_SAFE = re.compile(r"^[A-Za-z0-9_.\-]+$")


class LocalExportStore(ExportStore):
    def __init__(self, root: str) -> None:
        self.root = Path(root) / "exports"

    def _path(self, name: str) -> Path:
        if not _SAFE.match(name):
            raise ValueError(f"unsafe export file name {name!r}")
        return self.root / name

    def save(self, name: str, data: bytes) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self._path(name + ".part")
        tmp.write_bytes(data)
        os.replace(tmp, self._path(name))

    def read(self, name: str) -> bytes:
        return self._path(name).read_bytes()
