"""Finding a table's file(s) in the source folder from the spec's ``file`` (plain Python).

``file`` is one of:

- a name without suffix (``train``): exactly one of ``train.csv``, ``train.csv.gz`` and
  ``train.parquet`` must exist;
- a path with its suffix (``sales/2019.csv.gz``), relative to the folder (or absolute);
- a glob (``sales/*.parquet``): every match is read and the rows are concatenated, in the
  order of the sorted paths.
"""

from __future__ import annotations

from pathlib import Path

from deepar_assets.errors import DataValidationError

SUFFIXES = (".csv", ".csv.gz", ".parquet")
_GLOB_CHARS = set("*?[")


def file_format(path: Path) -> str:
    """``csv`` (plain or gzipped, the suffix says which) or ``parquet``."""
    name = path.name.lower()
    if name.endswith(".parquet"):
        return "parquet"
    if name.endswith(".csv") or name.endswith(".csv.gz"):
        return "csv"
    raise DataValidationError(f"{path}: expected a .csv, .csv.gz or .parquet file")


def _has_suffix(name: str) -> bool:
    return any(name.lower().endswith(s) for s in SUFFIXES)


def is_glob(file: str) -> bool:
    return bool(_GLOB_CHARS & set(file))


def find_table_files(folder: str | Path, file: str, field: str = "file") -> list[Path]:
    """The file(s) a table's ``file`` names in ``folder``; ``field`` (e.g. ``target.file``)
    names the spec field in errors."""
    folder = Path(folder)
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise DataValidationError(
            f"source folder {folder} {what}; DEEPAR_SOURCE must be the folder of the spec's files"
        )
    if is_glob(file):
        matches = sorted(p for p in folder.glob(file) if p.is_file())
        found = [p for p in matches if _has_suffix(p.name)]
        if not found:
            others = f" (it matches only {', '.join(p.name for p in matches[:5])})" if matches else ""
            raise DataValidationError(
                f"{field}: {file!r} matches no .csv, .csv.gz or .parquet file in {folder}{others}"
            )
        return found
    path = Path(file).expanduser()
    path = path if path.is_absolute() else folder / path
    if _has_suffix(path.name):
        if not path.is_file():
            raise DataValidationError(f"{field}: {path} does not exist; expected the file {file!r} in {folder}")
        return [path]
    names = [path.name + s for s in SUFFIXES]
    found = [path.with_name(n) for n in names if path.with_name(n).is_file()]
    if not found:
        raise DataValidationError(
            f"{path.parent}: expected {names[0]}, {names[1]} or {names[2]} ({field}: {file!r}), found none"
        )
    if len(found) > 1:
        raise DataValidationError(
            f"{path.parent}: both {' and '.join(p.name for p in found)} exist ({field}: {file!r}); keep one so it is "
            "clear which is read"
        )
    return found
