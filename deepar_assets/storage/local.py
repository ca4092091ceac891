"""The embedded default store: a folder on the local disk."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import time
from pathlib import Path

from deepar_assets.errors import ConfigurationError, ObjectNotFoundError, StorageError
from deepar_assets.storage.base import STALE_SECONDS, ObjectChangedError, ObjectInfo, ObjectStore, check_key

PARTIAL_SUFFIX = ".partial"


class FolderStore(ObjectStore):
    """Objects as files under a root folder (created when the first object is written); a root
    that is a file is refused when the store is built and whenever it is used."""

    def __init__(self, root: str | Path):
        self.root = Path(root).expanduser().resolve()
        self._check_root()

    def _check_root(self) -> bool:
        """Whether the root folder exists; a root that exists but is not a folder raises
        ConfigurationError naming it (it would otherwise look like an empty store)."""
        try:  # one stat: a root another writer creates meanwhile is not taken for a file
            if stat.S_ISDIR(self.root.stat().st_mode):
                return True
        except FileNotFoundError:
            return False
        except NotADirectoryError:
            pass  # a file on the way to it
        raise ConfigurationError(
            f"the storage root {self.root} is a file, not a folder (or lies under a file); point the setting at a "
            "folder (or s3://bucket/prefix)"
        )

    @property
    def root_uri(self) -> str:
        return str(self.root)

    def _path(self, key: str) -> Path:
        path = (self.root / check_key(key, self.root_uri)).resolve()
        if not path.is_relative_to(self.root):  # a symbolic link out of the root
            raise StorageError(f"storage key {key!r} points outside the store {self.root}")
        self._check_root()
        return path

    def put_bytes(self, key: str, data: bytes) -> None:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=PARTIAL_SUFFIX)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)  # publish atomically
        except OSError as exc:
            raise StorageError(f"cannot write {path}: {exc}") from exc

    def put_file(self, key: str, path: Path, sha256: str | None = None) -> None:
        target = self._path(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=PARTIAL_SUFFIX)
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

    def get_version(self, key: str, expect: ObjectInfo) -> bytes:
        """The file's size and modification time are compared with ``expect`` before and after
        the read: a file replaced or rewritten meanwhile raises ObjectChangedError."""
        path = self._path(key)

        def version() -> str:
            try:
                status = path.stat()
            except FileNotFoundError:
                raise ObjectNotFoundError(f"{path} does not exist in the store {self.root}") from None
            return _version(status.st_size, status.st_mtime_ns / 1e9)

        wanted = _version(expect.size, expect.modified)
        before = version()
        data = self.get_bytes(key)
        after = version()
        if before != wanted or after != wanted or len(data) != expect.size:
            raise ObjectChangedError(
                f"{path} changed since it was listed: expected size {expect.size} bytes modified at "
                f"{expect.modified:.6f}, found {after.replace(':', ' bytes modified at ', 1)}"
            )
        return data

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def put_if_absent(self, key: str, data: bytes) -> bool:
        """Write a temporary file, then hard-link it to the key: the link fails when the key
        exists, so two writers racing for one key cannot both win, and a reader never sees a part."""
        path = self._path(key)
        tmp = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.link(tmp, path)
            return True
        except FileExistsError:
            return False
        except OSError as exc:
            raise StorageError(f"cannot write {path}: {exc}") from exc
        finally:
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot delete {path}: {exc}") from exc

    def list_keys(self, prefix: str = "") -> list[str]:
        if not self._check_root():
            return []
        keys = (
            p.relative_to(self.root).as_posix()
            for p in self.root.rglob("*")
            if p.is_file() and not p.name.endswith(PARTIAL_SUFFIX)
        )
        return sorted(k for k in keys if k.startswith(prefix))

    def list_info(self, prefix: str = "") -> list[ObjectInfo]:
        if not self._check_root():
            return []
        infos = []
        for path in self.root.rglob("*"):
            key = path.relative_to(self.root).as_posix()
            if not key.startswith(prefix) or path.name.endswith(PARTIAL_SUFFIX):
                continue
            try:
                status = path.stat()
            except FileNotFoundError:  # replaced or removed while listing
                continue
            if stat.S_ISREG(status.st_mode):
                infos.append(ObjectInfo(key, status.st_size, status.st_mtime_ns / 1e9))
        return sorted(infos, key=lambda info: info.key)

    def clean_abandoned(self, now: float | None = None, older_than: float = STALE_SECONDS) -> list[str]:
        """Remove the ``.partial`` files of writes killed before their rename, older than ``older_than``."""
        if not self._check_root():
            return []
        now = time.time() if now is None else now
        removed = []
        for path in sorted(self.root.rglob(f"*{PARTIAL_SUFFIX}")):
            try:
                if path.is_file() and now - path.stat().st_mtime >= older_than:
                    path.unlink()
                    removed.append(str(path))
            except FileNotFoundError:  # removed meanwhile (another cleanup, or the writer)
                continue
            except OSError as exc:
                raise StorageError(f"cannot remove the abandoned partial file {path}: {exc}") from exc
        return removed


def _version(size: int, modified: float) -> str:
    """``size:modification time``, to the microsecond (as a listing's versions are compared)."""
    return f"{size}:{modified:.6f}"
