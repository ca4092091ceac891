"""Content-addressed, manifest-published versions of a set of objects.

A version lives under ``<prefix>/<version>/``. Every object is written first and
``manifest.json`` (keys, sizes, sha256) last, so an interrupted write never looks like data:
readers trust a version only through its manifest. Publishing the same content again writes
nothing (the manifests match); after an interrupted publish, only the objects that are missing
or differ are written, then the manifest.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from deepar_assets.errors import ObjectNotFoundError, StorageError
from deepar_assets.storage.base import ObjectStore

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class PublishedVersion:
    prefix: str  # <prefix>/<version>
    version: str
    manifest: dict
    uploaded: int  # objects written by this call, manifest not counted (0 when the version already existed)


def _manifest(version: str, files: dict[str, bytes]) -> dict:
    return {
        "version": version,
        "objects": {
            key: {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()} for key, data in sorted(files.items())
        },
    }


def publish(store: ObjectStore, prefix: str, version: str, files: dict[str, bytes]) -> PublishedVersion:
    """Publish objects held in memory."""
    manifest = _manifest(version, files)
    return _publish(store, prefix, version, manifest, lambda target, key: store.put_bytes(target, files[key]))


def publish_files(
    store: ObjectStore, prefix: str, version: str, files: dict[str, tuple[Path, int, str]]
) -> PublishedVersion:
    """Publish objects from local files: key → (path, size, sha256), streamed up one by one."""
    manifest = {
        "version": version,
        "objects": {key: {"size": size, "sha256": sha} for key, (_, size, sha) in sorted(files.items())},
    }
    return _publish(
        store, prefix, version, manifest, lambda target, key: store.put_file(target, files[key][0], files[key][2])
    )


def _publish(
    store: ObjectStore, prefix: str, version: str, manifest: dict, write: Callable[[str, str], None]
) -> PublishedVersion:
    base = f"{prefix}/{version}"
    try:
        existing = read_manifest(store, base)
    except ObjectNotFoundError:
        existing = None
    if existing is not None and existing.get("objects") == manifest["objects"]:
        return PublishedVersion(base, version, existing, uploaded=0)
    uploaded = 0
    present = set(store.list_keys(f"{base}/"))
    for key in sorted(manifest["objects"]):
        # An object an interrupted earlier publish already wrote whole is not sent again.
        target = f"{base}/{key}"
        if target not in present or store.sha256(target) != manifest["objects"][key]["sha256"]:
            write(target, key)
            uploaded += 1
    store.put_bytes(f"{base}/{MANIFEST}", json.dumps(manifest, indent=1, sort_keys=True).encode())
    return PublishedVersion(base, version, manifest, uploaded=uploaded)


def read_manifest(store: ObjectStore, base: str) -> dict:
    return json.loads(store.get_bytes(f"{base}/{MANIFEST}"))


def read_verified(store: ObjectStore, base: str, key: str, manifest: dict | None = None) -> bytes:
    """Read an object of a published version, checking it against the manifest."""
    manifest = manifest if manifest is not None else read_manifest(store, base)
    expected = manifest["objects"].get(key)
    if expected is None:
        raise ObjectNotFoundError(f"{store.uri(base)}: the manifest lists no object {key!r}")
    data = store.get_bytes(f"{base}/{key}")
    if len(data) != expected["size"] or hashlib.sha256(data).hexdigest() != expected["sha256"]:
        raise StorageError(f"{store.uri(f'{base}/{key}')} does not match its manifest (size or sha256 differ)")
    return data
