"""Tests of cutting encoded series into DeepAR's train / test / validation channels and of
their JSON Lines serialization (``deepar_assets.domain.channels``)."""

from __future__ import annotations

import functools
import re

import numpy as np
import orjson
import pandas as pd
import pytest

from deepar_assets.constants import CHANNELS, TEST, TRAIN, VALIDATION
from deepar_assets.domain.channels import (
    ENCODING_FILE,
    ChannelSplit,
    build_dataset_files,
    channel_file,
    content_version,
    parse_jsonl,
    record_to_json,
    records_to_jsonl,
    split_channels,
)
from deepar_assets.domain.encoding import EncodedSeries, Encoding, encode
from deepar_assets.domain.raw import RawData
from deepar_assets.domain.spec import DatasetSpec
from deepar_assets.domain.synthetic import SyntheticSpec, generate_frames
from deepar_assets.errors import DataValidationError
from deepar_assets_tests.domain.raw_samples import frames_to_raw

SEEDS = [0, 1, 2]
H = 8
T = 70
SPEC = SyntheticSpec(n_stores=4, n_depts=6, n_weeks=T, n_future_weeks=13, seed=0)
REASONS = {
    TRAIN: {"no observed period before the train cut"},
    TEST: {
        "no observed period before the scored window",
        "no observed period in the scored window",
        "category value not in train",
    },
}
REASONS[VALIDATION] = REASONS[TEST]


# --- helpers --------------------------------------------------------------------------------


@functools.cache
def _generated(seed: int) -> dict[str, pd.DataFrame]:
    return generate_frames(SyntheticSpec(n_stores=4, n_depts=6, n_weeks=T, n_future_weeks=13, seed=seed))


def frames_for(seed: int = 0) -> dict[str, pd.DataFrame]:
    return {key: frame.copy() for key, frame in _generated(seed).items()}


def encode_frames(frames: dict[str, pd.DataFrame]) -> EncodedSeries:
    return encode(frames_to_raw(frames))


def history_dates(frames: dict[str, pd.DataFrame]) -> list[str]:
    return sorted(frames["train"]["Date"].unique())


def unused_depts(frames: dict[str, pd.DataFrame], n: int) -> list[int]:
    used = set(frames["train"]["Dept"])
    return [d for d in range(1, 100) if d not in used][:n]


def add_series(frames: dict[str, pd.DataFrame], store: int, dept: int, weeks: range) -> None:
    """Add rows for (store, dept) at the given week indices of the history."""
    dates = history_dates(frames)
    assert len(dates) == T
    features = frames["features"].set_index(["Store", "Date"])
    rows = pd.DataFrame(
        {
            "Store": store,
            "Dept": dept,
            "Date": [dates[w] for w in weeks],
            "Weekly_Sales": [100.0 + w for w in weeks],
            "IsHoliday": [bool(features.loc[(store, dates[w]), "IsHoliday"]) for w in weeks],
        }
    )
    train = pd.concat([frames["train"], rows], ignore_index=True)
    frames["train"] = train.sort_values(["Store", "Dept", "Date"], ignore_index=True)


def key_of(encoded: EncodedSeries, i: int) -> tuple[int, int]:
    return int(encoded.keys["Store"].iloc[i]), int(encoded.keys["Dept"].iloc[i])


def index_of(encoded: EncodedSeries, store: int, dept: int) -> int:
    match = np.flatnonzero((encoded.keys["Store"] == store).to_numpy() & (encoded.keys["Dept"] == dept).to_numpy())
    assert len(match) == 1
    return int(match[0])


def member_keys(encoded: EncodedSeries, split: ChannelSplit, channel: str) -> set[tuple[int, int]]:
    return {key_of(encoded, int(i)) for i in split.members[channel]}


def parsed_channels(encoded: EncodedSeries, split: ChannelSplit) -> dict[str, dict[tuple[int, int], dict]]:
    """channel → (Store, Dept) → parsed record, read back from the dataset files."""
    files = build_dataset_files(encoded, split)
    out = {}
    for channel in CHANNELS:
        records = parse_jsonl(files[channel_file(channel)], source=channel)
        by_key = {}
        for record in records:
            decoded = encoded.encoding.decode(record["cat"])
            by_key[(decoded["Store"], decoded["Dept"])] = record
        assert len(by_key) == len(records)
        out[channel] = by_key
    return out


@pytest.fixture(scope="module")
def base() -> tuple[EncodedSeries, ChannelSplit]:
    encoded = encode_frames(frames_for(0))
    return encoded, split_channels(encoded, H)


# The three constructed exclusion cases, as (weeks with sales, expected reason per channel;
# None = member).
LATE_SERIES = (
    range(T - H, T),
    {
        TRAIN: "no observed period before the train cut",
        TEST: "no observed period before the scored window",
        VALIDATION: "no observed period before the scored window",
    },
)
LATE_DEPARTMENT = (
    range(T - 2 * H, T),
    {
        TRAIN: "no observed period before the train cut",
        TEST: "no observed period before the scored window",
        VALIDATION: "category value not in train",
    },
)
CLOSED_SERIES = (
    range(0, 21),
    {
        TRAIN: None,
        TEST: "no observed period in the scored window",
        VALIDATION: "no observed period in the scored window",
    },
)
LATE_BUT_VALID = (  # a late opening with enough context before the validation window
    range(T - 2 * H - 3, T),
    {TRAIN: None, TEST: None, VALIDATION: None},
)


@pytest.fixture(scope="module")
def edited() -> tuple[EncodedSeries, ChannelSplit, dict[str, tuple[int, int]]]:
    """Seed 0 with every constructed case added at once, so the invariants meet exclusions."""
    frames = frames_for(0)
    depts = unused_depts(frames, 4)
    added = {}
    for (name, (weeks, _)), dept, store in zip(
        {"late": LATE_SERIES, "late_dept": LATE_DEPARTMENT, "closed": CLOSED_SERIES, "valid": LATE_BUT_VALID}.items(),
        depts,
        [1, 2, 3, 4],
        strict=True,
    ):
        add_series(frames, store, dept, weeks)
        added[name] = (store, dept)
    encoded = encode_frames(frames)
    return encoded, split_channels(encoded, H), added


@pytest.fixture(scope="module", params=[*SEEDS, "edited"], ids=lambda p: p if isinstance(p, str) else f"seed{p}")
def any_split(request, tmp_path_factory) -> tuple[EncodedSeries, ChannelSplit]:
    """The plain synthetic data for each seed, and seed 0 with the constructed exclusions."""
    if request.param == "edited":
        encoded, split, _ = request.getfixturevalue("edited")
        return encoded, split
    encoded = encode_frames(frames_for(request.param))
    return encoded, split_channels(encoded, H)


# --- split ----------------------------------------------------------------------------------


def test_ends(any_split):
    encoded, split = any_split
    n = encoded.n_history
    assert split.prediction_length == H
    assert split.ends == {TRAIN: n - 2 * H, TEST: n - H, VALIDATION: n}


def test_record_lengths_follow_first_and_ends(any_split):
    encoded, split = any_split
    channels = parsed_channels(encoded, split)
    for channel in CHANNELS:
        assert len(channels[channel]) == len(split.members[channel])
        for (store, dept), record in channels[channel].items():
            i = index_of(encoded, store, dept)
            length = split.ends[channel] - int(encoded.first[i])
            assert len(record["target"]) == length > 0
            assert record["dynamic_feat"].shape == (len(encoded.encoding.dynamic_feat), length)
            assert record["start"] == encoded.periods[encoded.first[i]].strftime("%Y-%m-%d %H:%M:%S")
            # The record ends at the channel's last week: its final week is ends - 1.
            last = pd.Timestamp(record["start"]) + pd.Timedelta(weeks=length - 1)
            assert last == encoded.periods[split.ends[channel] - 1]


def test_scored_records_have_context_and_scored_values(any_split):
    encoded, split = any_split
    channels = parsed_channels(encoded, split)
    for channel in (TEST, VALIDATION):
        for record in channels[channel].values():
            target = record["target"]
            assert len(target) > H
            assert not np.isnan(target[:-H]).all(), "no context before the scored window"
            assert not np.isnan(target[-H:]).all(), "nothing to score"
    for record in channels[TRAIN].values():
        assert not np.isnan(record["target"]).all()


def test_earlier_channels_are_prefixes_of_later_ones(any_split):
    """No value after a channel's cut leaks into it: train ⊑ test ⊑ validation per series."""
    encoded, split = any_split
    channels = parsed_channels(encoded, split)
    for earlier, later in ((TRAIN, TEST), (TEST, VALIDATION), (TRAIN, VALIDATION)):
        common = channels[earlier].keys() & channels[later].keys()
        assert common
        for key in common:
            short, long = channels[earlier][key], channels[later][key]
            n = len(short["target"])
            assert len(long["target"]) == n + split.ends[later] - split.ends[earlier]
            np.testing.assert_array_equal(long["target"][:n], short["target"])
            np.testing.assert_array_equal(long["dynamic_feat"][:, :n], short["dynamic_feat"])
            assert (short["start"], short["cat"]) == (long["start"], long["cat"])


def test_channel_targets_equal_the_encoded_ones(any_split):
    encoded, split = any_split
    channels = parsed_channels(encoded, split)
    for channel in CHANNELS:
        for (store, dept), record in channels[channel].items():
            i = index_of(encoded, store, dept)
            np.testing.assert_array_equal(record["target"], encoded.target[i, encoded.first[i] : split.ends[channel]])


def test_test_members_are_train_members(any_split):
    _, split = any_split
    assert set(split.members[TEST].tolist()) <= set(split.members[TRAIN].tolist())


def test_scored_cat_values_occur_in_train(any_split):
    encoded, split = any_split
    train_cats = encoded.cat[split.members[TRAIN]]
    for channel in (TEST, VALIDATION):
        cats = encoded.cat[split.members[channel]]
        for k in range(encoded.cat.shape[1]):
            assert set(cats[:, k].tolist()) <= set(train_cats[:, k].tolist()), (channel, k)


def test_members_and_exclusions_add_up(any_split):
    encoded, split = any_split
    for channel in CHANNELS:
        members = split.members[channel]
        assert np.array_equal(members, np.unique(members))
        assert ((members >= 0) & (members < encoded.n_series)).all()
        assert set(split.excluded[channel]) <= REASONS[channel]
        assert all(count > 0 for count in split.excluded[channel].values())
        assert len(members) + sum(split.excluded[channel].values()) == encoded.n_series


def test_edited_data_has_every_exclusion(edited):
    _, split, _ = edited
    assert set(split.excluded[TRAIN]) == REASONS[TRAIN]
    assert set(split.excluded[VALIDATION]) == REASONS[VALIDATION]


@pytest.mark.parametrize(
    ("weeks", "expected"),
    [LATE_SERIES, LATE_DEPARTMENT, CLOSED_SERIES, LATE_BUT_VALID],
    ids=["late_series", "late_department", "closed_series", "late_but_valid"],
)
def test_exclusion_reasons(base, weeks, expected):
    base_encoded, base_split = base
    frames = frames_for(0)
    (dept,) = unused_depts(frames, 1)
    add_series(frames, 2, dept, weeks)
    encoded = encode_frames(frames)
    split = split_channels(encoded, H)
    assert encoded.n_series == base_encoded.n_series + 1
    new = index_of(encoded, 2, dept)
    for channel in CHANNELS:
        reason = expected[channel]
        before = member_keys(base_encoded, base_split, channel)
        after = member_keys(encoded, split, channel)
        # Nothing else changes.
        assert after - {(2, dept)} == before
        counts = dict(base_split.excluded[channel])
        if reason is None:
            assert new in split.members[channel]
        else:
            assert new not in split.members[channel]
            counts[reason] = counts.get(reason, 0) + 1
        assert split.excluded[channel] == counts, channel


def test_unseen_store_is_excluded_from_validation(base):
    """A store that only opens inside the test window: its series are scored in validation only
    if the store value was seen in train, which it was not."""
    base_encoded, base_split = base
    frames = frames_for(0)
    new_store = int(frames["stores"]["Store"].max()) + 1
    stores = frames["stores"]
    frames["stores"] = pd.concat([stores, stores.iloc[[0]].assign(Store=new_store)], ignore_index=True)
    features = frames["features"]
    frames["features"] = pd.concat(
        [features, features[features["Store"] == 1].assign(Store=new_store)], ignore_index=True
    )
    dept = int(frames["train"]["Dept"].iloc[0])  # a known department
    add_series(frames, new_store, dept, range(T - 2 * H, T))
    encoded = encode_frames(frames)
    split = split_channels(encoded, H)
    new = index_of(encoded, new_store, dept)
    assert new not in split.members[VALIDATION]
    assert split.excluded[VALIDATION].get("category value not in train", 0) == (
        base_split.excluded[VALIDATION].get("category value not in train", 0) + 1
    )
    assert member_keys(encoded, split, VALIDATION) == member_keys(base_encoded, base_split, VALIDATION)


@pytest.mark.parametrize("h", [0, -1])
def test_prediction_length_must_be_positive(base, h):
    encoded, _ = base
    with pytest.raises(DataValidationError, match=f"prediction_length must be at least 1 period, got {h}"):
        split_channels(encoded, h)


def test_too_short_a_history(base):
    encoded, _ = base
    n = encoded.n_history
    longest = (n - 2) // 2
    split = split_channels(encoded, longest)  # the train channel keeps 2 weeks
    assert split.ends[TRAIN] == n - 2 * longest >= 2
    with pytest.raises(DataValidationError) as info:
        split_channels(encoded, longest + 1)
    message = str(info.value)
    assert f"the history has {n} periods" in message
    assert f"prediction_length={longest + 1}" in message
    assert f"expected at least {2 * (longest + 1) + 2} periods of history" in message
    assert encoded.last_period.strftime("%Y-%m-%d") in message


def test_split_is_deterministic(base):
    encoded, split = base
    again = split_channels(encoded, H)
    assert again.ends == split.ends and again.excluded == split.excluded
    for channel in CHANNELS:
        np.testing.assert_array_equal(again.members[channel], split.members[channel])


# --- JSON Lines -----------------------------------------------------------------------------


def test_record_to_json_writes_nan_as_a_string():
    record = {
        "start": "2011-01-07 00:00:00",
        "target": np.array([1.5, np.nan, 3.0, np.nan, -2.25]),
        "cat": [0, 2, 1],
        "dynamic_feat": np.array([[0.1, 0.2, 0.3, 0.4, 0.5], [1.0, 0.0, 1.0, 0.0, 1.0]]),
    }
    line = record_to_json(record)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert b"null" not in line and b"NaN" in line
    loaded = orjson.loads(line)
    assert loaded["target"] == [1.5, "NaN", 3.0, "NaN", -2.25]
    assert loaded["dynamic_feat"] == record["dynamic_feat"].tolist()
    assert loaded["cat"] == [0, 2, 1] and loaded["start"] == record["start"]
    (back,) = parse_jsonl(line)
    assert back["target"].dtype == np.float64
    np.testing.assert_array_equal(back["target"], record["target"])  # NaN positions equal too
    np.testing.assert_array_equal(back["dynamic_feat"], record["dynamic_feat"])
    assert (back["start"], back["cat"]) == (record["start"], record["cat"])
    # The input record is not modified.
    assert isinstance(record["target"], np.ndarray)


def test_record_to_json_accepts_lists_and_drops_empty_features():
    line = record_to_json({"start": "2011-01-07 00:00:00", "target": [1.0, float("nan")], "dynamic_feat": []})
    assert orjson.loads(line) == {"start": "2011-01-07 00:00:00", "target": [1.0, "NaN"]}
    line = record_to_json({"start": "x", "target": [1.0], "dynamic_feat": np.zeros((0, 1))})
    assert "dynamic_feat" not in orjson.loads(line)


def test_every_record_round_trips(edited):
    encoded, split, _ = edited
    assert np.isnan(encoded.target).any()
    for channel in CHANNELS:
        records = list(encoded.records(split.members[channel], split.ends[channel]))
        data = records_to_jsonl(records)
        assert data.count(b"\n") == len(records)
        back = parse_jsonl(data, source=channel)
        assert len(back) == len(records)
        for original, parsed in zip(records, back, strict=True):
            np.testing.assert_array_equal(parsed["target"], original["target"])
            np.testing.assert_array_equal(parsed["dynamic_feat"], original["dynamic_feat"])
            assert parsed["start"] == original["start"] and parsed["cat"] == original["cat"]


def test_parse_jsonl_reads_null_as_nan_and_skips_blank_lines():
    data = b'\n{"start": "x", "target": [1, null, "NaN"]}\n\n  \n{"start": "y", "target": []}'
    records = parse_jsonl(data)
    assert [r["start"] for r in records] == ["x", "y"]
    np.testing.assert_array_equal(records[0]["target"], [1.0, np.nan, np.nan])
    assert records[1]["target"].shape == (0,)


@pytest.mark.parametrize(
    "bad",
    [
        b"{not json",
        b'{"start": "2011-01-07 00:00:00", "cat": [0]}',  # no target
        b'{"start": "x", "target": ["twelve"]}',
        b'{"start": "x", "target": 5}',
        b'{"start": "x", "target": [1, 2], "dynamic_feat": [[1, 2], [3]]}',
        b"[1, 2, 3]",
        b'"just a string"',
    ],
)
def test_parse_jsonl_names_the_bad_line(bad):
    good = b'{"start": "2011-01-07 00:00:00", "target": [1.0, "NaN"]}'
    data = good + b"\n" + good + b"\n\n" + bad + b"\n" + good + b"\n"
    with pytest.raises(DataValidationError) as info:
        parse_jsonl(data, source="s3://bucket/train/data.json")
    message = str(info.value)
    assert message.startswith("s3://bucket/train/data.json, line 4: not a DeepAR record")
    assert re.search(r"line \d+", message).group() == "line 4"


def test_parse_jsonl_default_source():
    with pytest.raises(DataValidationError, match=r"^<bytes>, line 1: "):
        parse_jsonl(b"oops")


# --- dataset files --------------------------------------------------------------------------


def test_build_dataset_files(edited):
    encoded, split, _ = edited
    files = build_dataset_files(encoded, split)
    assert set(files) == {"train/data.json", "test/data.json", "validation/data.json", ENCODING_FILE}
    assert [channel_file(c) for c in CHANNELS] == ["train/data.json", "test/data.json", "validation/data.json"]
    assert Encoding.from_json(files[ENCODING_FILE]) == encoded.encoding
    for channel in CHANNELS:
        data = files[channel_file(channel)]
        assert isinstance(data, bytes) and data.endswith(b"\n")
        assert data.count(b"\n") == len(split.members[channel])
        records = parse_jsonl(data)
        assert [r["cat"] for r in records] == [encoded.cat[i].tolist() for i in split.members[channel]]
        for record in records:
            assert set(record) == {"start", "target", "cat", "dynamic_feat"}


def _version_of(frames: dict[str, pd.DataFrame]) -> tuple[str, dict[str, bytes]]:
    encoded = encode_frames(frames)
    files = build_dataset_files(encoded, split_channels(encoded, H))
    return content_version(files), files


def test_content_version_is_stable():
    version, files = _version_of(frames_for(0))
    again, files_again = _version_of(frames_for(0))
    assert re.fullmatch(r"[0-9a-f]{16}", version)
    assert files == files_again
    assert again == version
    # Key order does not matter; content does.
    assert content_version(dict(reversed(list(files.items())))) == version
    assert content_version({**files, ENCODING_FILE: files[ENCODING_FILE] + b" "}) != version
    renamed = {("x" + k if k == ENCODING_FILE else k): v for k, v in files.items()}
    assert content_version(renamed) != version


@pytest.mark.parametrize("week", [0, T - 2 * H - 1, T - H - 1, T - 1])
def test_content_version_changes_with_one_value(base, week):
    encoded, split = base
    # A series in every channel, observed in the week, so each channel whose window holds it changes.
    in_all = set.intersection(*(member_keys(encoded, split, c) for c in CHANNELS))
    store, dept = min(k for k in in_all if not np.isnan(encoded.target[index_of(encoded, *k), week]))
    version, files = _version_of(frames_for(0))
    frames = frames_for(0)
    train = frames["train"]
    date = history_dates(frames)[week]
    match = (train["Store"] == store) & (train["Dept"] == dept) & (train["Date"] == date)
    (row,) = train.index[match.to_numpy()]
    train.loc[row, "Weekly_Sales"] += 0.01
    changed, changed_files = _version_of(frames)
    assert changed != version
    # Only the channels whose window holds that week change: later values never leak earlier.
    ends = {TRAIN: T - 2 * H, TEST: T - H, VALIDATION: T}
    for channel in CHANNELS:
        same = files[channel_file(channel)] == changed_files[channel_file(channel)]
        assert same == (week >= ends[channel]), channel
    assert files[ENCODING_FILE] == changed_files[ENCODING_FILE]


# --- rolling evaluation origins ---------------------------------------------------------------


def test_rolling_origins_add_earlier_cuts_to_test_only():
    encoded = encode_frames(frames_for(0))
    one = split_channels(encoded, 4)
    three = split_channels(encoded, 4, rolling_origins=3, origin_step=2)
    assert [end for end, _ in three.extra_test_origins] == [one.ends[TEST] - 2, one.ends[TEST] - 4]
    np.testing.assert_array_equal(one.members[VALIDATION], three.members[VALIDATION])
    # Train ends where the earliest scored window starts: every origin is out of sample for the trials.
    assert three.ends[TRAIN] == one.ends[TRAIN] - 4 == min(end for end, _ in three.extra_test_origins) - 4
    assert three.ends[TEST] == one.ends[TEST] and three.ends[VALIDATION] == one.ends[VALIDATION]
    extra = sum(len(m) for _, m in three.extra_test_origins)
    assert three.record_count(TEST) == len(one.members[TEST]) + extra
    lines = build_dataset_files(encoded, three)["test/data.json"].splitlines()
    assert len(lines) == three.record_count(TEST)
    # The main origin's records come first, the earlier cuts after, each shorter by the step.
    main = {
        tuple(orjson.loads(line)["cat"]): len(orjson.loads(line)["target"]) for line in lines[: len(one.members[TEST])]
    }
    for line in lines[len(one.members[TEST]) :]:
        record = orjson.loads(line)
        assert len(record["target"]) < main.get(tuple(record["cat"]), 10**6)
    with pytest.raises(DataValidationError, match="40 rolling origins 4 periods apart"):
        split_channels(encoded, 4, rolling_origins=40)


def test_streamed_files_equal_the_in_memory_ones(tmp_path):
    """write_dataset_files (what s3_datasets publishes) and build_dataset_files write the
    same bytes, rolling origins included: one file order serves both."""
    from deepar_assets.domain.channels import write_dataset_files

    encoded = encode_frames(frames_for(1))
    split = split_channels(encoded, 4, rolling_origins=2)
    written = write_dataset_files(encoded, split, tmp_path / "out", chunk_size=7)
    assert {key: f.path.read_bytes() for key, f in written.items()} == build_dataset_files(encoded, split)


# --- datasets without dynamic features, other frequencies -------------------------------------


def _daily_without_features(n_days: int = 60) -> EncodedSeries:
    """A store-item-demand-like daily dataset: int ids, no covariates, no calendar features."""
    spec = DatasetSpec.model_validate(
        {
            "name": "daily",
            "frequency": "D",
            "start": "2024-01-01",
            "target": {
                "name": "sales",
                "file": "sales.csv",
                "ids": ["store", "item"],
                "id_types": {"store": "int", "item": "int"},
                "time": {"column": "date"},
                "target": "sales",
            },
            "evaluation": {"prediction_length": 7},
        }
    )
    days = pd.date_range("2024-01-01", periods=n_days, freq="D")
    frame = pd.MultiIndex.from_product([[1, 2], [5, 3, 9], days], names=["store", "item", "date"]).to_frame(index=False)
    frame["sales"] = np.arange(len(frame), dtype=np.float64) % 17
    frame = frame.drop(index=[4, 100]).reset_index(drop=True)  # two missing days
    return encode(RawData(spec=spec, target=frame))


@pytest.mark.parametrize("rolling_origins", [1, 2, 3])
def test_records_without_dynamic_features_have_no_dynamic_feat_key(tmp_path, rolling_origins):
    from deepar_assets.domain.channels import write_dataset_files

    encoded = _daily_without_features()
    assert encoded.features.shape == (1, 0, len(encoded.periods))
    split = split_channels(encoded, 7, rolling_origins=rolling_origins)
    files = build_dataset_files(encoded, split)
    for channel in CHANNELS:
        records = parse_jsonl(files[channel_file(channel)], source=channel)
        assert len(records) == split.record_count(channel) == 6 * (rolling_origins if channel == TEST else 1)
        for record in records:
            assert set(record) == {"start", "target", "cat"}
            assert re.fullmatch(r"2024-01-01 00:00:00", record["start"])
    ends = [split.ends[TEST]] + [end for end, _ in split.extra_test_origins]
    lengths = sorted({len(r["target"]) for r in parse_jsonl(files[channel_file(TEST)])})
    assert lengths == sorted(ends)
    written = write_dataset_files(encoded, split, tmp_path / "out", chunk_size=4, workers=2)
    assert {key: f.path.read_bytes() for key, f in written.items()} == files
    assert Encoding.from_json(files[ENCODING_FILE]).dynamic_feat == []


def test_daily_channels_end_at_the_right_days():
    encoded = _daily_without_features(60)
    split = split_channels(encoded, 7)
    assert split.ends == {TRAIN: 46, TEST: 53, VALIDATION: 60}
    assert encoded.periods[split.ends[VALIDATION] - 1] == pd.Timestamp("2024-02-29")
    with pytest.raises(DataValidationError, match=r"the history has 60 periods \(to 2024-02-29\)"):
        split_channels(encoded, 30)


def test_long_records_are_written_in_smaller_chunks(tmp_path):
    from deepar_assets.domain.channels import CHUNK_VALUES, default_chunk_size, write_dataset_files

    weekly = encode_frames(frames_for(0))
    daily = _daily_without_features(700)
    assert default_chunk_size(daily) < 500  # long records: smaller chunks
    for encoded in (weekly, daily):
        size = default_chunk_size(encoded)
        assert 1 <= size <= 500
        values = len(encoded.periods) * (1 + encoded.features.shape[1])
        assert size == 500 or size * values <= CHUNK_VALUES
        split = split_channels(encoded, 7, rolling_origins=2)
        written = write_dataset_files(encoded, split, tmp_path / f"{len(encoded.periods)}", workers=2)
        assert {key: f.path.read_bytes() for key, f in written.items()} == build_dataset_files(encoded, split)


def test_the_pooled_writer_finishes_where_the_process_ignores_sigterm(tmp_path):
    """A process that ignores SIGTERM (as processes started in the background here do, and its
    spawned workers inherit it) still gets its channels: the workers are told to stop, not
    sent SIGTERM, which once left the whole test suite waiting on a worker forever."""
    import subprocess
    import sys
    import textwrap
    from pathlib import Path

    script = textwrap.dedent(
        f"""
        import signal
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        from pathlib import Path
        from deepar_assets.domain.channels import build_dataset_files, split_channels, write_dataset_files
        from deepar_assets_tests.domain.test_channels import _daily_without_features
        encoded = _daily_without_features()
        split = split_channels(encoded, 7, rolling_origins=2)
        written = write_dataset_files(encoded, split, Path({str(tmp_path)!r}), chunk_size=2, workers=2)
        same = {{key: f.path.read_bytes() for key, f in written.items()}} == build_dataset_files(encoded, split)
        print("same" if same else "different")
        """
    )
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "same"
