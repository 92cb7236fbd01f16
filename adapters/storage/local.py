"""Project files on the local disk under ``settings.storage_dir``.

Keys are ``<project id>/<file id>``: ids only, never user-supplied names, so a key
cannot escape the storage directory. A file is written to a temporary name and
renamed, so a reader never sees half a file.
"""
from __future__ import annotations

import io
import os
import re
import tempfile
from pathlib import Path
from typing import BinaryIO

from application.workflow.ports import FileStorage

_KEY = re.compile(r"^[A-Za-z0-9_]{1,64}(/[A-Za-z0-9_]{1,64})*$")
_CHUNK = 64 * 1024


class LocalFileStorage(FileStorage):
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        if not _KEY.match(key):
            raise ValueError(f"invalid storage key {key!r}")
        return self.root / key

    def save(self, key: str, stream: BinaryIO, max_bytes: int) -> int:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        size = 0
        try:
            with os.fdopen(fd, "wb") as out:
                while True:
                    chunk = stream.read(_CHUNK)
                    if not chunk:
                        break
                    size += len(chunk)
                    if size > max_bytes:
                        raise ValueError(f"file larger than {max_bytes} bytes")
                    out.write(chunk)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return size

    def open(self, key: str) -> BinaryIO:
        return self._path(key).open("rb")

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


class InMemoryFileStorage(FileStorage):
    """For unit tests and benchmarks: files in a dict."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}

    def save(self, key: str, stream: BinaryIO, max_bytes: int) -> int:
        data = stream.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise ValueError(f"file larger than {max_bytes} bytes")
        self.files[key] = data
        return len(data)

    def open(self, key: str) -> BinaryIO:
        if key not in self.files:
            raise FileNotFoundError(key)
        return io.BytesIO(self.files[key])

    def delete(self, key: str) -> None:
        self.files.pop(key, None)
