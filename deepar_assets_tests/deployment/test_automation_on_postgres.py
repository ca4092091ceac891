"""The automation conditions on an instance on a real PostgreSQL server (the shipped
deploy/dagster-postgres.yaml): the scenarios of deepar_assets_tests/test_automation.py, the same
test functions, with their ``instance`` fixture replaced by one on this test's own database.

The conditions read the instance in ways SQLite and PostgreSQL answer with different SQL: the
materializations of raw_sales after the target's latest one, paged by storage id (the
``partitions`` policy), the latest evaluation of the drift check (the ``degraded`` policy), and
Dagster's own asset records behind the builtin conditions. (The automation cursor is carried
between ticks in process here; test_daemon_restart.py runs the automation sensor in a daemon.)"""

from __future__ import annotations

import dagster as dg
import pytest

# The scenarios, collected here again: pytest gives them this module's `instance` fixture.
from deepar_assets_tests.test_automation import (  # noqa: F401
    test_a_combined_policy_tunes_on_whichever_comes_first,
    test_a_daily_dataset_refreshes_on_each_new_weekly_partition,
    test_a_partition_ingested_while_the_refresh_ran_is_not_lost,
    test_cron_policy_tunes_after_new_data_once_per_cron_tick,
    test_degraded_policy_tunes_once_per_data_version_on_which_accuracy_degraded,
    test_manual_tuning_new_partitions_refresh_the_data_and_forecasts_and_never_train,
    test_partitions_policy_tunes_once_enough_new_partitions_were_ingested,
    test_without_a_model_new_partitions_refresh_the_data_only,
)

POSTGRES_STORAGES = {
    "run_storage": "PostgresRunStorage",
    "event_log_storage": "PostgresEventLogStorage",
    "schedule_storage": "PostgresScheduleStorage",
}


@pytest.fixture
def instance(pg_env):
    """The instance of deploy/dagster-postgres.yaml on this test's own, empty database."""
    with dg.DagsterInstance.get() as instance:
        found = {name: type(getattr(instance, name)).__name__ for name in POSTGRES_STORAGES}
        assert found == POSTGRES_STORAGES, "the scenarios would not run against PostgreSQL"
        yield instance


def test_the_scenarios_run_against_the_postgres_database_of_the_test(instance, pg_env):
    """What the replaced fixture gives the scenarios: the server's database named in DAGSTER_PG_DB,
    where the materializations they report land."""
    instance.report_runless_asset_event(dg.AssetMaterialization("raw_sales", partition="2012-10-05"))
    from deepar_assets_tests.deployment.conftest import connect

    connection = connect(pg_env)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT asset_key, partition FROM event_logs WHERE dagster_event_type = 'ASSET_MATERIALIZATION'"
            )
            assert cursor.fetchall() == [('["raw_sales"]', "2012-10-05")]
    finally:
        connection.close()
