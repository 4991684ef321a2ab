"""Amazon CloudFront through boto3's create_invalidation / get_invalidation.

CloudFront allows 3,000 paths and 15 wildcard paths in progress per distribution; the
service keeps each batch within both and waits for one to complete before the next.
`CallerReference` is the idempotency token: the same reference with the same paths
returns the earlier invalidation instead of creating (and billing) a second."""
from __future__ import annotations

from typing import Any

from ..errors import InvalidationError
from .base import Batch, InvalidationBackend


class CloudFrontBackend(InvalidationBackend):
    features = frozenset({"wildcards", "status"})

    def __init__(self, alias: str, options: dict[str, Any]):
        super().__init__(alias, options)
        self.distribution_id = options.get("distribution_id") or ""
        if not self.distribution_id:
            raise InvalidationError("CloudFrontBackend needs OPTIONS['distribution_id'] "
                                    "(CDN_CLOUDFRONT_DISTRIBUTION_ID).")
        self._client = options.get("client")  # tests pass a stubbed client

    @property
    def client(self):
        if self._client is None:
            import boto3

            self._client = boto3.client("cloudfront", region_name=self.options.get("region_name") or "us-east-1")
        return self._client

    def submit(self, paths: list[str], reference: str) -> Batch:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = self.client.create_invalidation(
                DistributionId=self.distribution_id,
                InvalidationBatch={"Paths": {"Quantity": len(paths), "Items": list(paths)},
                                   "CallerReference": reference})
        except (BotoCoreError, ClientError) as exc:
            raise InvalidationError(f"CloudFront refused the invalidation: {exc}") from exc
        inv = answer["Invalidation"]
        return Batch(id=inv["Id"], paths=tuple(paths), status=_status(inv["Status"]))

    def status(self, batch_id: str) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = self.client.get_invalidation(DistributionId=self.distribution_id, Id=batch_id)
        except (BotoCoreError, ClientError) as exc:
            raise InvalidationError(f"CloudFront could not report invalidation {batch_id}: {exc}") from exc
        return _status(answer["Invalidation"]["Status"])

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "distribution_id": self.distribution_id}


def _status(value: str) -> str:
    return "completed" if value == "Completed" else "in_progress"
