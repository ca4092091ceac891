"""The landing sensor: each new weekly drop becomes one run of its raw_sales partition.

Thin wiring over deepar_assets.domain.landing (which files are new, the cursor) and the
landing zone (listing): the run key of a request names the files and their versions, so a
file version is requested once, however often it is seen; the cursor keeps the versions
handled and survives restarts.
"""

from __future__ import annotations

import time

import dagster as dg

from deepar_assets.assets.data import WEEKS, raw_sales
from deepar_assets.constants import FIRST_WEEK
from deepar_assets.domain.landing import plan_drops
from deepar_assets.resources.source import SalesSource

LANDING_SENSOR = "landing_zone_sensor"
MAX_REQUESTS_PER_LOOK = 100


@dg.sensor(
    name=LANDING_SENSOR,
    target=[raw_sales],
    minimum_interval_seconds=5,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Watches the landing zone ($DEEPAR_LANDING) and requests the raw_sales partition of each new or "
    "corrected weekly drop (YYYY-MM-DD_sales.csv[.gz], YYYY-MM-DD_features.csv[.gz]).",
)
def landing_zone_sensor(context: dg.SensorEvaluationContext, source: SalesSource) -> dg.SensorResult | dg.SkipReason:
    if not source.landing_location():
        return dg.SkipReason("no landing zone: set DEEPAR_LANDING to a folder or s3://bucket/prefix")
    zone = source.landing_zone()
    missing = zone.missing()
    if missing:
        return dg.SkipReason(missing)
    plan = plan_drops(
        zone.listing(),
        context.cursor,
        first_week=FIRST_WEEK,
        last_week=WEEKS.get_last_partition_key(),
        now=time.time(),
        settle_seconds=source.landing_settle_seconds,
        max_requests=MAX_REQUESTS_PER_LOOK,
    )
    for notice in plan.rejected:
        context.log.warning(f"{zone.uri(notice.key)} is ignored: {notice.reason}")
    requests = [
        dg.RunRequest(partition_key=drop.week, run_key=drop.run_key, tags=drop.tags(zone.root_uri))
        for drop in plan.requests
    ]
    for drop in plan.requests:
        context.log.info(f"week {drop.week}: {', '.join(zone.uri(info.key) for info in drop.files)}")
    skip = None if requests else f"nothing new in {zone.root_uri} ({plan.summary()})"
    return dg.SensorResult(run_requests=requests, cursor=plan.cursor, skip_reason=skip)
