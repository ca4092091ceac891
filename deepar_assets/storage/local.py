"""The embedded default store: a folder on the local disk."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from pathlib import Path

from deepar_assets.errors import ObjectNotFoundError, StorageError
from deepar_assets.storage.base import ObjectInfo, ObjectStore


class FolderStore(ObjectStore):
    def __init__(self, root: str | Path):
        self.root = Path(root).expanduser().resolve()

    @property
    def root_uri(self) -> str:
        return str(self.root)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root) or not key:
            raise StorageError(f"storage key {key!r} points outside the store {self.root}")
        return path

    def put_bytes(self, key: str, data: bytes) -> None:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)  # publish atomically
        except OSError as exc:
            raise StorageError(f"cannot write {path}: {exc}") from exc

    def put_file(self, key: str, path: Path, sha256: str | None = None) -> None:
        target = self._path(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial")
            os.close(fd)
            shutil.copyfile(path, tmp)
            os.replace(tmp, target)  # publish atomically
        except OSError as exc:
            raise StorageError(f"cannot write {target}: {exc}") from exc

    def get_bytes(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise ObjectNotFoundError(f"{path} does not exist in the store {self.root}") from None
        except OSError as exc:
            raise StorageError(f"cannot read {path}: {exc}") from exc

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list_keys(self, prefix: str = "") -> list[str]:
        if not self.root.is_dir():
            return []
        keys = (
            p.relative_to(self.root).as_posix()
            for p in self.root.rglob("*")
            if p.is_file() and not p.name.endswith(".partial")
        )
        return sorted(k for k in keys if k.startswith(prefix))

    def list_info(self, prefix: str = "") -> list[ObjectInfo]:
        if not self.root.is_dir():
            return []
        infos = []
        for path in self.root.rglob("*"):
            key = path.relative_to(self.root).as_posix()
            if not key.startswith(prefix) or path.name.endswith(".partial"):
                continue
            try:
                status = path.stat()
            except FileNotFoundError:  # replaced or removed while listing
                continue
            if stat.S_ISREG(status.st_mode):
                infos.append(ObjectInfo(key, status.st_size, status.st_mtime_ns / 1e9))
        return sorted(infos, key=lambda info: info.key)
