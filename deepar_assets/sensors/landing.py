"""The landing sensor: each new drop of a partition becomes one run of that raw_sales partition.

Thin wiring over deepar_assets.domain.landing (which files are new, the cursor) and the
landing zone (listing), built for a dataset spec (its tables name the drops, its partitions
bound them): the run key of a request names the files and their versions, so a file version
is requested once, however often it is seen (and a version uploaded again, after another, is
requested again); the cursor keeps the versions handled and survives restarts. On S3 the look
has tighter timeouts than runs (``SalesSource.landing_zone(sensor=True)``), so that an endpoint
that does not answer fails the look well inside Dagster's sensor evaluation timeout.
"""

from __future__ import annotations

import time

import dagster as dg

from deepar_assets.domain.landing import LandingLayout, plan_drops
from deepar_assets.domain.spec import DatasetSpec
from deepar_assets.resources.source import SalesSource

LANDING_SENSOR = "landing_zone_sensor"
MAX_REQUESTS_PER_LOOK = 100


def build_landing_sensor(spec: DatasetSpec, raw_sales: dg.AssetsDefinition) -> dg.SensorDefinition:
    """The landing sensor of a spec, requesting partitions of ``raw_sales`` (built for the same spec)."""
    layout = LandingLayout.of(spec)
    partitions = raw_sales.partitions_def
    if not isinstance(partitions, dg.TimeWindowPartitionsDefinition):
        raise TypeError(f"{raw_sales.key.to_user_string()} is not time-partitioned")
    metadata = (
        f"; metadata beside them: {', '.join(f'{m}.csv[.gz]' for m in layout.metadata)}" if layout.metadata else ""
    )

    @dg.sensor(
        name=LANDING_SENSOR,
        target=[raw_sales],
        minimum_interval_seconds=5,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Watches the landing zone ($DEEPAR_LANDING) and requests the raw_sales partition of each new or "
        f"corrected drop of the {spec.name} dataset: {layout.drop_format()}{metadata}.",
    )
    def landing_zone_sensor(
        context: dg.SensorEvaluationContext, source: SalesSource
    ) -> dg.SensorResult | dg.SkipReason:
        if not source.landing_location():
            return dg.SkipReason("no landing zone: set DEEPAR_LANDING to a folder or s3://bucket/prefix")
        zone = source.landing_zone(sensor=True)
        missing = zone.missing()
        if missing:
            return dg.SkipReason(missing)
        plan = plan_drops(
            zone.listing(),
            context.cursor,
            layout,
            last=partitions.get_last_partition_key(),
            now=time.time(),
            settle_seconds=source.landing_settle_seconds,
            max_requests=MAX_REQUESTS_PER_LOOK,
        )
        for notice in plan.rejected:
            context.log.warning(f"{zone.uri(notice.key)} is ignored: {notice.reason}")
        requests = [
            dg.RunRequest(partition_key=drop.partition, run_key=drop.run_key, tags=drop.tags(zone.root_uri, layout))
            for drop in plan.requests
        ]
        for drop in plan.requests:
            context.log.info(f"partition {drop.partition}: {', '.join(zone.uri(info.key) for info in drop.files)}")
        skip = None if requests else f"nothing new in {zone.root_uri} ({plan.summary()})"
        return dg.SensorResult(run_requests=requests, cursor=plan.cursor, skip_reason=skip)

    return landing_zone_sensor
