"""Object storage: one small interface, a folder and an S3 implementation.

Keys are ``/``-separated paths relative to the store's root. Writing an object publishes it
whole or not at all; a dataset version is published through its manifest, written last
(:mod:`deepar_assets.storage.versions`).
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

from deepar_assets.errors import ObjectNotFoundError


@dataclass(frozen=True)
class ObjectInfo:
    """One stored object as a listing sees it: its key (relative to the store's root), size in
    bytes, modification time (POSIX seconds) and, on S3, its ETag (without quotes)."""

    key: str
    size: int
    modified: float
    etag: str | None = None


class ObjectStore(ABC):
    """Where datasets and models live: a local folder or s3://bucket/prefix."""

    @property
    @abstractmethod
    def root_uri(self) -> str:
        """The store's root as a URI (a folder path or s3://bucket/prefix)."""

    def uri(self, key: str) -> str:
        return f"{self.root_uri.rstrip('/')}/{key}"

    @abstractmethod
    def put_bytes(self, key: str, data: bytes) -> None:
        """Write one object; readers see the old object or the whole new one, never a part."""

    def put_file(self, key: str, path: Path, sha256: str | None = None) -> None:
        """Write one object from a local file (``sha256``: its digest, when already known).
        Stores override this to stream instead of reading the file into memory."""
        self.put_bytes(key, Path(path).read_bytes())

    @abstractmethod
    def get_bytes(self, key: str) -> bytes:
        """Read one object; raises ObjectNotFoundError naming the key when it does not exist."""

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    def sha256(self, key: str) -> str | None:
        """The sha256 (hex) of a stored object, or None when it does not exist or is unknown.

        Publishing skips objects whose sha256 already matches."""
        try:
            return hashlib.sha256(self.get_bytes(key)).hexdigest()
        except ObjectNotFoundError:
            return None

    def describe(self) -> dict[str, str]:
        """Where the store is, safe to show in logs and metadata (never credentials)."""
        return {"storage": self.root_uri}

    @abstractmethod
    def list_keys(self, prefix: str = "") -> list[str]:
        """Every key under ``prefix``, sorted."""

    def list_info(self, prefix: str = "") -> list[ObjectInfo]:
        """Every object under ``prefix`` with its size and modification time (and ETag where the
        store has one), sorted by key. Stores that can list metadata override this."""
        raise NotImplementedError(f"{type(self).__name__} cannot list object metadata")

    def put_folder(self, folder: Path, prefix: str) -> list[str]:
        """Upload every file under a local folder to ``prefix/<relative path>``."""
        keys = []
        for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
            key = f"{prefix}/{path.relative_to(folder).as_posix()}"
            self.put_bytes(key, path.read_bytes())
            keys.append(key)
        return keys

    def get_folder(self, prefix: str, folder: Path) -> Path:
        """Download every object under ``prefix/`` into a local folder."""
        prefix = prefix.rstrip("/") + "/"
        for key in self.list_keys(prefix):
            target = Path(folder) / key[len(prefix) :]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(self.get_bytes(key))
        return Path(folder)
