"""Object storage: one small interface, a folder and an S3 implementation.

Keys are ``/``-separated paths relative to the store's root. Writing an object publishes it
whole or not at all; a dataset version is published through its manifest, written last
(:mod:`deepar_assets.storage.versions`).
"""

from __future__ import annotations

import fcntl
import hashlib
import re
import shutil
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from deepar_assets.errors import ConfigurationError, ObjectNotFoundError, StorageError

STALE_SECONDS = 3600.0
"""Leftovers of an interrupted write (a ``.partial`` file, a staging folder, an unfinished
multipart upload) older than this are removed; younger ones may belong to a run still going."""


_LOCK = ".in-use"


@contextmanager
def scratch_folder(parent: Path, prefix: str) -> Iterator[Path]:
    """A new local folder ``<parent>/<prefix>…`` for one run's temporary files, removed on exit
    and locked while in use (a lock the system releases when the process dies, even killed), so
    :func:`clean_stale_folders` tells a live run's folder from one a killed run left."""
    parent = Path(parent)
    parent.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    try:
        with open(folder / _LOCK, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def clean_stale_folders(
    parent: Path, prefix: str, now: float | None = None, older_than: float = STALE_SECONDS
) -> list[str]:
    """Remove the ``<prefix>…`` folders under ``parent`` that killed runs left: not modified for
    ``older_than`` seconds and not locked by a live run (:func:`scratch_folder`). Returns them."""
    parent = Path(parent)
    if not parent.is_dir():
        return []
    now = time.time() if now is None else now
    removed = []
    for folder in sorted(parent.glob(f"{prefix}*")):
        try:
            if not folder.is_dir() or now - folder.stat().st_mtime < older_than:
                continue
            with open(folder / _LOCK, "a") as lock:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:  # a live run's
                    continue
                shutil.rmtree(folder)
        except FileNotFoundError:  # removed meanwhile
            continue
        except OSError as exc:
            raise StorageError(f"cannot remove the stale temporary folder {folder}: {exc}") from exc
        removed.append(str(folder))
    return removed


class ObjectChangedError(StorageError):
    """An object is no longer the version a reader was asked to read."""


S3_SCHEME = "s3://"
_SCHEME = re.compile(r"\A(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*):")


def s3_location(value: str, setting: str) -> tuple[str, str] | None:
    """Where a location setting (``DEEPAR_STORAGE``, ``DEEPAR_SOURCE``, ``DEEPAR_LANDING`` or a
    resource's field, named by ``setting``) points: (bucket, prefix) for ``s3://bucket/prefix``,
    None for a folder. A value with any other scheme (``s3:/``, ``S3://``, ``s3a://``,
    ``file://``, ``http://``) raises ConfigurationError, instead of becoming a folder of that name."""
    expected = f"expected a folder or {S3_SCHEME}bucket/prefix"
    if value.startswith(S3_SCHEME):
        bucket, _, prefix = value[len(S3_SCHEME) :].partition("/")
        if not bucket:
            raise ConfigurationError(f"{setting}={value!r}: the bucket is missing; {expected}")
        return bucket, prefix.strip("/")
    scheme = _SCHEME.match(value)
    if scheme or "://" in value:
        found = f"the scheme {scheme['scheme']}:" if scheme else "a '://' inside"
        raise ConfigurationError(
            f"{setting}={value!r}: {found} is not one this platform reads; {expected} (the scheme exactly "
            f"{S3_SCHEME!r}, lowercase)"
        )
    return None


def plain_key(key: str) -> bool:
    """``/``-separated names, none of them empty, ``.`` or ``..``: a key that names one object,
    inside the store, the same way on a folder and on S3."""
    return all(part not in ("", ".", "..") for part in key.split("/"))


def check_key(key: str, root_uri: str) -> str:
    """``key`` when it is a plain key (every store takes the same keys), else StorageError."""
    if not plain_key(key):
        raise StorageError(
            f"storage key {key!r} points outside the store {root_uri} (or is empty): a key is names separated "
            "by '/', none of them empty, '.' or '..'"
        )
    return key


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

    def get_version(self, key: str, expect: ObjectInfo) -> bytes:
        """Read one object only in the version ``expect`` describes (as a listing saw it: its
        size, and its ETag on S3 or its modification time in a folder); raises
        ObjectChangedError naming the key when the object is another version now."""
        raise NotImplementedError(f"{type(self).__name__} cannot read an object at a given version")

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    def put_if_absent(self, key: str, data: bytes) -> bool:
        """Create one object only if no object has the key: True when this call created it,
        False when the key already existed (nothing is written then). Two writers racing for the
        same key: exactly one gets True. Commits that must not overwrite each other use this."""
        raise NotImplementedError(f"{type(self).__name__} cannot create objects conditionally")

    def delete(self, key: str) -> None:
        """Remove one object; a key that does not exist is not an error."""
        raise NotImplementedError(f"{type(self).__name__} cannot delete objects")

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

    def clean_abandoned(self, now: float | None = None, older_than: float = STALE_SECONDS) -> list[str]:
        """Remove what interrupted writes left in the store (a folder's ``.partial`` files, S3's
        unfinished multipart uploads) started more than ``older_than`` seconds before ``now``;
        younger ones may belong to a write still going. Returns what was removed, as URIs."""
        return []

    def put_folder(self, folder: Path, prefix: str) -> list[str]:
        """Upload every file under a local folder to ``prefix/<relative path>``."""
        keys = []
        for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
            key = f"{prefix}/{path.relative_to(folder).as_posix()}"
            self.put_bytes(key, path.read_bytes())
            keys.append(key)
        return keys

    def get_folder(self, prefix: str, folder: Path) -> Path:
        """Download every object under ``prefix/`` into a local folder. Every target is checked to
        be inside the folder before anything is created: a key with ``..`` in it is refused."""
        prefix = prefix.rstrip("/") + "/"
        root = Path(folder).resolve()
        targets = {}
        for key in self.list_keys(prefix):
            relative = key[len(prefix) :]
            target = (root / relative).resolve()
            if not plain_key(relative) or not target.is_relative_to(root):
                raise StorageError(
                    f"{self.uri(key)} would be written outside {root} (the key has an empty, '.' or '..' part); "
                    "nothing was downloaded"
                )
            targets[key] = target
        for key, target in targets.items():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(self.get_bytes(key))
        return Path(folder)
