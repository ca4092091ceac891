"""The project's own exceptions.

Every message names the file, row, field, storage key or job concerned and says what was
expected, so a failed Dagster run tells the user what to fix.
"""


class DeepARAssetsError(Exception):
    """Base class of every error this project raises on purpose."""


class DataValidationError(DeepARAssetsError, ValueError):
    """Input data (a flat file or a record) is not what the platform expects."""


class EncodingError(DeepARAssetsError, ValueError):
    """A value cannot be encoded or decoded with the saved category encoding."""


class StorageError(DeepARAssetsError):
    """Reading or writing object storage failed."""


class ObjectNotFoundError(StorageError, KeyError):
    """A storage key that should exist does not."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


class AccessDeniedError(StorageError):
    """The store refused the credentials in use (S3 403: AccessDenied, bad or missing keys)."""


class BucketNotFoundError(StorageError):
    """The configured S3 bucket does not exist."""


class EndpointUnreachableError(StorageError):
    """The object store's endpoint cannot be reached (bad URL, nothing listening, no network)."""


class TrainingError(DeepARAssetsError):
    """Training, tuning or scoring a model failed."""


class ConfigurationError(DeepARAssetsError, ValueError):
    """A deployment setting or run config value is invalid."""


class SpecError(ConfigurationError):
    """A dataset spec is invalid: the message names the spec file and the field."""
