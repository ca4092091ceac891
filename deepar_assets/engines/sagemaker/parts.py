"""What the job mixins (:mod:`.registry`, :mod:`.transform`) use of the engine they are mixed
into: the attributes :class:`~deepar_assets.engines.sagemaker.SageMakerEngine` sets in its
``__init__`` and the calls it defines (:mod:`.tuning`), declared once for the type checker."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from deepar_assets.engines.sagemaker.requests import SageMakerSettings
    from deepar_assets.storage.base import ObjectStore


class EngineParts:
    """Declarations only: SageMakerEngine defines all of them."""

    name: str
    client: Any  # boto3's sagemaker client
    store: ObjectStore  # where model cards go (models/<model id>/model.json)
    settings: SageMakerSettings
    sleep: Callable[[float], None]  # between polls; injectable, so tests run without waiting
    region: str

    if TYPE_CHECKING:

        def _call(self, operation: str, what: str, **params: Any) -> dict[str, Any]: ...

        def describe_tuning_job(self, name: str) -> dict[str, Any] | None: ...
