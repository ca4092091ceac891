"""A small dataset version's files, shared by the storage tests."""

FILES = {
    "encoding.json": b'{"cat": []}',
    "test/data.json": b'{"start": "2010-02-05", "target": [1.0, "NaN"]}\n',
    "train/data.json": b'{"start": "2010-02-05", "target": [1.0]}\n',
    "validation/data.json": b'{"start": "2010-02-05", "target": [1.0, "NaN", 3.0]}\n',
}
