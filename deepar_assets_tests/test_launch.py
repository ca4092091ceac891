"""make run's launcher: the run it launched is the one the summary reports, and the terminal
gets one line per step, the checks' verdicts and the trials with the time left, not Dagster's
event stream."""

import io
from types import SimpleNamespace

import dagster as dg
import pytest

from deepar_assets import summary
from deepar_assets.definitions import PIPELINE_JOB
from deepar_assets.launch import LAUNCHED_BY, LAUNCHED_BY_TAG, Progress, follow, launch, run_config


@dg.asset
def first() -> int:
    return 20


@dg.asset(check_specs=[dg.AssetCheckSpec("positive", asset="second")])
def second(context: dg.AssetExecutionContext, first: int):
    context.log.info("trial 1/4 {'epochs': 3} test:mean_wQuantileLoss=0.1 best=0.1 elapsed=30s")
    context.log.info("a line the terminal does not need")
    yield dg.Output(first + 1)
    yield dg.AssetCheckResult(passed=True)


@dg.asset
def broken(second: int) -> int:
    raise ValueError(f"second was {second}: this asset always fails\nwith a traceback below")


def _definitions(*assets) -> dg.Definitions:
    return dg.Definitions(
        assets=list(assets), jobs=[dg.define_asset_job(PIPELINE_JOB, selection=dg.AssetSelection.all())]
    )


def test_the_terminal_gets_a_line_per_step_and_the_trials_with_the_time_left_not_the_event_stream(capfd):
    out = io.StringIO()
    with dg.DagsterInstance.ephemeral() as instance:
        run_id, success = launch("*", out=out, instance=instance, definitions=_definitions(first, second))
        assert success
        assert instance.get_run_by_id(run_id).tags[LAUNCHED_BY_TAG] == LAUNCHED_BY
    lines = [line.split("  ", 1)[1] for line in out.getvalue().splitlines()]
    assert lines[0] == "▶ first" and lines[1].startswith("✓ first (")
    assert "  check second.positive: passed" in lines
    [trial] = [line for line in lines if "trial" in line]
    assert trial == "  trial 1/4 {'epochs': 3} test:mean_wQuantileLoss=0.1 best=0.1 (30 s, about 1 min 30 s left)"
    assert not any("does not need" in line for line in lines)
    captured = capfd.readouterr()
    for noise in ("LOADED_INPUT", "HANDLED_OUTPUT", "STEP_START", "DEBUG"):
        assert noise not in captured.out + captured.err


def test_a_failed_step_says_why_in_one_line_and_the_run_fails():
    out = io.StringIO()
    with dg.DagsterInstance.ephemeral() as instance:
        _, success = launch("*", out=out, instance=instance, definitions=_definitions(first, second, broken))
    assert not success
    assert "✗ broken failed: ValueError: second was 21: this asset always fails" in out.getvalue()
    assert "with a traceback below" not in out.getvalue()


def test_the_summary_reports_the_run_make_run_launched_not_a_later_sensor_run(tmp_path, capsys):
    defs = _definitions(first, second)
    with dg.DagsterInstance.local_temp(str(tmp_path)) as instance:
        launched, _ = launch("*", out=io.StringIO(), instance=instance, definitions=defs)
        sensor_run = dg.materialize([first], instance=instance, tags={"dagster/sensor_name": "landing_sensor"})
        assert instance.get_runs(limit=1)[0].run_id == sensor_run.run_id
        assert summary.latest_launch(instance) == launched
        assert summary.report(instance, launched, failed=False) == 0
    assert f"run {launched} succeeded" in capsys.readouterr().out


def test_run_config_files_merge_with_the_first_file_winning_and_the_console_logger_quiet(tmp_path):
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text("ops:\n  tuning_run:\n    config:\n      max_trials: 2\n")
    b.write_text("ops:\n  tuning_run:\n    config:\n      max_trials: 20\n      seed: 7\n")
    merged = run_config([str(a), str(b)])
    assert merged["ops"]["tuning_run"]["config"] == {"max_trials": 2, "seed": 7}
    assert merged["loggers"]["console"]["config"]["log_level"] == "CRITICAL"
    (tmp_path / "list.yaml").write_text("- 1\n")
    with pytest.raises(SystemExit, match="list.yaml: a run config is a YAML mapping"):
        run_config([str(tmp_path / "list.yaml")])


def test_progress_says_how_long_a_step_took():
    now = iter([100.0, 175.0])
    out = io.StringIO()
    progress = Progress(out, clock=lambda: next(now))
    progress.started["tuning_run"] = 100.0
    progress.message("trial 4/4 {} test:mean_wQuantileLoss=0.1 best=0.1 elapsed=240s")
    assert out.getvalue().split("  ", 1)[1] == "  trial 4/4 {} test:mean_wQuantileLoss=0.1 best=0.1 (4 min 00 s)\n"


def test_a_bad_run_config_is_refused_naming_the_file_and_the_field(tmp_path, monkeypatch, capsys):
    from deepar_assets import launch as launcher

    bad = tmp_path / "bad.yaml"
    bad.write_text("ops:\n  tuning_run:\n    config:\n      max_trialz: 2\n")
    with dg.DagsterInstance.ephemeral() as instance:
        monkeypatch.setattr(launcher.dg.DagsterInstance, "get", staticmethod(lambda: instance))
        assert launcher.main(["--select", "encoded_series", "-c", str(bad)]) == 2
        assert not instance.get_runs()
    err = capsys.readouterr().err
    assert f"run config {bad}: Error in config for job deepar_pipeline" in err
    assert 'unexpected config entry "max_trialz" at path root:ops:tuning_run:config' in err


def test_the_drain_shows_an_event_that_committed_behind_the_cursor():
    """On PostgreSQL an event can become visible after one with a higher id was read: the tail's
    cursor steps over it, and the final drain, reading the whole run again, shows it once."""

    def record(storage_id: int) -> SimpleNamespace:
        return SimpleNamespace(storage_id=storage_id, event_log_entry=storage_id)

    class Instance:
        visible = [record(1), record(3)]

        def get_run_records(self, filters, limit):
            return [SimpleNamespace(dagster_run=SimpleNamespace(run_id="run"))]

        def get_records_for_run(self, run_id, cursor, limit):
            after = -1 if cursor is None else cursor
            found = [r for r in self.visible if r.storage_id > after]
            return SimpleNamespace(records=found, cursor=max([after, *(r.storage_id for r in found)]), has_more=False)

    class Stop:
        done = False

        def is_set(self):
            return self.done

        def wait(self, seconds):
            Instance.visible.insert(1, record(2))  # commits late, behind id 3
            self.done = True

    shown = []
    follow(Instance(), "launch", SimpleNamespace(event=shown.append), Stop())
    assert shown == [1, 3, 2]
