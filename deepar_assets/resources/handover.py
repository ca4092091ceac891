"""What one step hands to the next (EncodedSeries, DatasetRef, TuningResult, RegisteredModel,
ForecastSet, …): pickled into the project's own object store, beside the data it describes.

With ``DEEPAR_STORAGE=s3://bucket/prefix`` a handover is an S3 object under
``<prefix>/handover/``, so a step never reads a file another step wrote to its local disk: each
step can run in its own container (Dagster's K8s or ECS run launchers). With a folder it stays
local, under ``<folder>/handover/``.

Why the project's store rather than dagster-aws's ``S3PickleIOManager``: one setting
(``DEEPAR_STORAGE``) places both the data and the handovers, and the handovers get the store's
client as it is (endpoint, retries, timeouts, server-side encryption with the configured KMS
key: a bucket whose policy refuses unencrypted writes refuses S3PickleIOManager's), and its
write-then-publish writes. The objects are small next to the data (Walmart: a few MB), so
references to stored objects would save little and would have to store EncodedSeries anyway.
"""

import pickle

import dagster as dg

from deepar_assets.errors import ConfigurationError
from deepar_assets.resources.storage import StorageResource

HANDOVER_PREFIX = "handover"


def handover_key(asset_key: dg.AssetKey) -> str:
    return "/".join([HANDOVER_PREFIX, *asset_key.path]) + ".pickle"


class HandoverIOManager(dg.ConfigurableIOManager):
    """Pickles each asset's value into the store (``handover/<asset>.pickle``) and loads it from
    there: S3 with an S3 store, the store's folder with a local one."""

    storage: dg.ResourceDependency[StorageResource]

    def _key(self, context: dg.InputContext | dg.OutputContext) -> str:
        if context.has_asset_partitions:
            raise ConfigurationError(
                f"{context.asset_key.to_user_string()}: the handover IO manager takes unpartitioned values only "
                "(a partitioned asset stores its data itself and returns a MaterializeResult)"
            )
        return handover_key(context.asset_key)

    def handle_output(self, context: dg.OutputContext, obj) -> None:
        if obj is None:
            return
        key = self._key(context)
        store = self.storage.store()
        store.put_bytes(key, pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))
        context.add_output_metadata({"handover": dg.MetadataValue.path(store.uri(key))})

    def load_input(self, context: dg.InputContext):
        if not context.has_asset_key:
            raise ConfigurationError(f"input {context.name!r}: the handover IO manager loads asset values only")
        key = self._key(context)
        store = self.storage.store()
        if not store.exists(key):
            raise ConfigurationError(
                f"input {context.name!r}: {context.asset_key.to_user_string()} has handed nothing over at "
                f"{store.uri(key)}; materialize it first with this storage ({self.storage.setting()})"
            )
        return pickle.loads(store.get_bytes(key))
