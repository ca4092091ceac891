"""Reading a dataset's files as its spec declares, with every check naming the file, line,
column, what was found and what was expected (plain pandas and pyarrow; no Dagster).

- :func:`find_table_files`: a table's file(s) in the source folder (``files``);
- :func:`read_table`: one table typed and checked on its own (``tables``);
- :func:`check_tables`: the cross-table checks (``validate``);
- :func:`read_dataset`: all of it, as a :class:`~deepar_assets.domain.raw.RawData`.
"""

from __future__ import annotations

from pathlib import Path

from deepar_assets.domain.raw import RawData
from deepar_assets.domain.reading.files import find_table_files
from deepar_assets.domain.reading.tables import TableData, layout, read_as_text, read_table, table_field
from deepar_assets.domain.reading.validate import check_metadata, check_related, check_tables, oddities
from deepar_assets.domain.spec import DatasetSpec


def table_files(spec: DatasetSpec, folder: str | Path) -> dict[str, list[Path]]:
    """Table name → its file(s) in ``folder``."""
    return {
        table.name: find_table_files(folder, table.file, f"{table_field(spec, table)}.file") for table in spec.tables
    }


def read_tables(spec: DatasetSpec, folder: str | Path) -> dict[str, TableData]:
    """Every table of the spec from ``folder``, each typed and checked on its own."""
    files = table_files(spec, folder)
    return {table.name: read_table(spec, table, files[table.name]) for table in spec.tables}


def read_dataset(spec: DatasetSpec, folder: str | Path) -> RawData:
    """Read and validate every table of ``spec`` from ``folder``."""
    tables = read_tables(spec, folder)
    target = tables[spec.target.name]
    related = [tables[t.name] for t in spec.related]
    metadata = [tables[t.name] for t in spec.metadata]
    check_tables(target, related, metadata)
    raw = RawData(
        spec=spec,
        target=target.frame,
        related={t.layout.name: t.frame for t in related},
        metadata={t.layout.name: t.frame for t in metadata},
        source=str(Path(folder)),
    )
    raw.oddities = oddities(raw)
    return raw


__all__ = [
    "TableData",
    "check_metadata",
    "check_related",
    "check_tables",
    "find_table_files",
    "layout",
    "oddities",
    "read_as_text",
    "read_dataset",
    "read_table",
    "read_tables",
    "table_files",
]
