"""Where the raw data comes from: the files a dataset spec declares, in a folder or under
s3://bucket/prefix (or the generated synthetic dataset), for the history, and the landing zone
where new periods arrive."""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import warnings
from pathlib import Path

import dagster as dg
from pydantic import Field

from deepar_assets.domain.raw import RawData
from deepar_assets.domain.reading import read_dataset
from deepar_assets.domain.reading.files import SUFFIXES, is_glob
from deepar_assets.domain.spec import DATASET_VARIABLE, DatasetSpec, load_spec
from deepar_assets.domain.synthetic import SyntheticSpec, write_dataset
from deepar_assets.errors import ConfigurationError, DataValidationError
from deepar_assets.resources.paths import deepar_home
from deepar_assets.storage.base import ObjectStore, s3_location
from deepar_assets.storage.landing import LandingZone

SOURCE_VARIABLE = "DEEPAR_SOURCE"
LANDING_VARIABLE = "DEEPAR_LANDING"
# The landing sensor's look (one listing) must end well inside Dagster's sensor evaluation
# timeout (60 s): at most 3 attempts of 3 s to connect and 5 s to get each answer.
SENSOR_CONNECT_TIMEOUT = 3.0
SENSOR_READ_TIMEOUT = 5.0
SENSOR_MAX_ATTEMPTS = 3
VERSIONS_SIDECAR = ".source_versions.json"
SYNTHETIC_LAYOUTS = ("synthetic", "walmart")
"""The specs whose layout the generated synthetic dataset has."""


def spec_keys(store: ObjectStore, spec: DatasetSpec) -> list[str]:
    """The keys of ``store`` that the spec's ``file`` entries may name (a name without suffix:
    its .csv, .csv.gz and .parquet variants; a glob: the keys it matches; a path: itself)."""
    wanted: set[str] = set()
    for table in spec.tables:
        file = table.file.strip("/")
        if is_glob(file):
            fixed = file[: min(file.index(c) for c in "*?[" if c in file)]
            folder = fixed.rsplit("/", 1)[0] + "/" if "/" in fixed else ""
            wanted |= {k for k in store.list_keys(folder) if fnmatch.fnmatchcase(k, file)}
        elif any(file.lower().endswith(s) for s in SUFFIXES):
            wanted |= {file} if store.exists(file) else set()
        else:
            wanted |= {file + s for s in SUFFIXES if store.exists(file + s)}
    return sorted(wanted)


def download_spec_files(store: ObjectStore, spec: DatasetSpec, folder: Path) -> Path:
    """Copy the spec's files from ``store`` into a local ``folder`` (same relative paths), so
    they are read like local ones. A file already copied is kept while its version (size and
    ETag, or size and modification time) is the same."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    keys = spec_keys(store, spec)
    try:
        infos = {info.key: info for info in store.list_info("")}
        versions = {k: f"{infos[k].size}:{infos[k].etag or infos[k].modified}" for k in keys if k in infos}
    except NotImplementedError:
        versions = {}
    sidecar = folder / VERSIONS_SIDECAR
    try:
        copied = json.loads(sidecar.read_text())
    except (OSError, ValueError):
        copied = {}
    for key in keys:
        path = folder / key
        if key in versions and copied.get(key) == versions[key] and path.is_file():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")
        partial.write_bytes(store.get_bytes(key))
        os.replace(partial, path)
        copied[key] = versions.get(key)
    sidecar.write_text(json.dumps(copied, indent=1, sort_keys=True))
    return folder


class SalesSource(dg.ConfigurableResource):
    """The files ``raw_sales`` reads: the dataset spec's tables in a folder or under S3."""

    dataset: str | None = Field(
        default=None,
        description="The dataset spec: a shipped name (walmart, aus_retail, store_item_demand, synthetic) or a path "
        "to a YAML file. Unset: $DEEPAR_DATASET; when that is unset too, the synthetic dataset's spec.",
    )
    location: str | None = Field(
        default=None,
        description="Where the spec's files are: a folder or s3://bucket/prefix. Unset: $DEEPAR_SOURCE; when that "
        "is unset too, a generated synthetic dataset (only for the synthetic and walmart specs, whose layout it has).",
    )
    synthetic_dir: str | None = Field(
        default=None, description="Where the synthetic dataset is generated (default <deepar home>/synthetic)."
    )
    synthetic_stores: int = Field(default=45, description="Stores in the synthetic dataset.")
    synthetic_depts: int = Field(default=60, description="Departments in the synthetic dataset.")
    synthetic_weeks: int = Field(default=143, description="Weeks of sales history in the synthetic dataset.")
    synthetic_seed: int = Field(default=0, description="Seed of the synthetic dataset.")
    landing: str | None = Field(
        default=None,
        description="The landing zone of drops, one file per period and table: a folder or s3://bucket/prefix. "
        "Unset: $DEEPAR_LANDING; unset too: no landing zone (the sensor skips). On S3, region, credentials and "
        "endpoint follow the usual AWS environment, as for the storage.",
    )
    landing_settle_seconds: float = Field(
        default=1.0,
        description="A drop modified less than this many seconds ago is left for the sensor's next look (its writer "
        "may not be done); 0 when every writer writes whole files (S3, or a temporary name and a rename).",
    )
    connect_timeout: float | None = Field(
        default=None,
        description="S3 only: seconds to open a connection to the endpoint, per attempt. Unset: "
        "$DEEPAR_S3_CONNECT_TIMEOUT, else 10. The landing sensor uses at most 3.",
    )
    read_timeout: float | None = Field(
        default=None,
        description="S3 only: seconds to wait for an answer (or the next bytes of one), per attempt. Unset: "
        "$DEEPAR_S3_READ_TIMEOUT, else 30. The landing sensor uses at most 5.",
    )

    def spec(self) -> DatasetSpec:
        """The dataset spec (``dataset``, else $DEEPAR_DATASET, else the synthetic one)."""
        return load_spec(self.dataset or os.environ.get(DATASET_VARIABLE) or None)

    def source_location(self) -> str | None:
        return self.location or os.environ.get(SOURCE_VARIABLE) or None

    def _setting(self, field: str, variable: str) -> str:
        """What a location comes from, for messages: the resource's field, else the variable."""
        return f"resources.source.config.{field}" if getattr(self, field) else variable

    def _s3_store(self, location: str, bucket: str, prefix: str, what: str, *, sensor: bool = False) -> ObjectStore:
        """An S3Store with a client built as the storage resource builds its own (the AWS
        environment, this resource's timeouts); ``sensor``: the sensor's tighter limits."""
        from botocore.exceptions import BotoCoreError

        from deepar_assets.resources.storage import s3_client, s3_timeouts
        from deepar_assets.storage.s3 import S3Store

        connect, read = s3_timeouts(self.connect_timeout, self.read_timeout)
        if sensor:
            connect, read = min(connect, SENSOR_CONNECT_TIMEOUT), min(read, SENSOR_READ_TIMEOUT)
        try:
            client = s3_client(SENSOR_MAX_ATTEMPTS if sensor else 5, connect_timeout=connect, read_timeout=read)
        except BotoCoreError as exc:
            raise ConfigurationError(f"{what} {location}: cannot set up the S3 client: {exc}") from exc
        return S3Store(client, bucket, prefix)

    def folder(self) -> tuple[Path, str]:
        """The local folder to read and what it is (``folder``, ``s3`` or ``synthetic``). An
        s3:// location is downloaded (the spec's files only) under the deepar home first."""
        spec = self.spec()
        location = self.source_location()
        bucket_prefix = s3_location(location, self._setting("location", SOURCE_VARIABLE)) if location else None
        if location and bucket_prefix:
            return self._download(spec, location, *bucket_prefix), "s3"
        if location:
            return Path(location).expanduser(), "folder"
        if spec.name not in SYNTHETIC_LAYOUTS:
            raise ConfigurationError(
                f"dataset {spec.name}: no source is configured; set {SOURCE_VARIABLE} to the folder (or "
                f"s3://bucket/prefix) holding its files ({', '.join(t.file for t in spec.tables)}). Without a source "
                f"only the {' and '.join(SYNTHETIC_LAYOUTS)} specs run, on generated data"
            )
        synthetic = SyntheticSpec(
            n_stores=self.synthetic_stores,
            n_depts=self.synthetic_depts,
            n_weeks=self.synthetic_weeks,
            seed=self.synthetic_seed,
        )
        base = Path(self.synthetic_dir) if self.synthetic_dir else deepar_home() / "synthetic"
        folder = base / f"s{synthetic.n_stores}-d{synthetic.n_depts}-w{synthetic.n_weeks}-seed{synthetic.seed}"
        return write_dataset(folder, synthetic), "synthetic"

    def _download(self, spec: DatasetSpec, location: str, bucket: str, prefix: str) -> Path:
        store = self._s3_store(location, bucket, prefix, "source")
        digest = hashlib.sha256(location.encode()).hexdigest()[:12]
        return download_spec_files(store, spec, deepar_home() / "work" / "source" / digest)

    def load(self) -> RawData:
        """Every table of the spec, read and validated (errors name the source's own files)."""
        spec = self.spec()
        folder, kind = self.folder()
        location = self.source_location()
        if kind != "s3" or not location:
            return read_dataset(spec, folder)
        local, remote = str(folder).rstrip("/"), location.rstrip("/")
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                raw = read_dataset(spec, folder)
        except DataValidationError as exc:
            raise DataValidationError(str(exc).replace(local, remote)) from None
        for warning in caught:
            warnings.warn(str(warning.message).replace(local, remote), warning.category, stacklevel=2)
        raw.source = location
        return raw

    def landing_location(self) -> str | None:
        return self.landing or os.environ.get(LANDING_VARIABLE) or None

    def landing_zone(self, sensor: bool = False) -> LandingZone:
        """The landing zone: a folder, or s3://bucket/prefix with an S3 client built as the
        storage resource builds its own (the AWS environment). ``sensor``: for the sensor's
        look, whose S3 calls get tighter timeouts and fewer attempts."""
        location = self.landing_location()
        if not location:
            raise ConfigurationError("no landing zone: set DEEPAR_LANDING to a folder or s3://bucket/prefix")
        setting = self._setting("landing", LANDING_VARIABLE)
        bucket_prefix = s3_location(location, setting)
        if bucket_prefix is not None:
            return LandingZone(self._s3_store(location, *bucket_prefix, "landing zone", sensor=sensor))
        from deepar_assets.storage.local import FolderStore

        try:
            return LandingZone(FolderStore(Path(location).expanduser()))
        except ConfigurationError as exc:
            raise ConfigurationError(f"{setting}={location!r}: {exc}") from None
