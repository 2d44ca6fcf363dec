"""DynamoDB: own-tool labeling's per-run counters, items of the idempotency table.

One item per run, id "label-counts#<run_id>" (Powertools' own ids are "<function>#<hash>", so they
never meet), with `labeled` and `unusable` numbers moved by UpdateItem ADD, which is atomic under
concurrent arrivals ("Atomic counters", https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/WorkingWithItems.html#WorkingWithItems.AtomicCounters),
and the table's TTL attribute `expiration`, pushed on by each arrival.
"""

import time
from typing import TYPE_CHECKING

from sagechain.adapters.clients import dynamodb_client
from sagechain.ports import LabelTally

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# Kept this long after a run's last arrival: longer than any labeling takes between two annotations.
KEEP_SECONDS = 90 * 24 * 3600


class DynamoDBLabelCounters:
    """LabelCounters on the idempotency table."""

    def __init__(self, table_name: str, client: "DynamoDBClient | None" = None) -> None:
        self._table = table_name
        self._client = client

    def add(self, run_id: str, labeled: int, unusable: int) -> LabelTally:
        """ADD to the run's counters; their values after the update."""
        client = self._client or dynamodb_client()
        answer = client.update_item(
            TableName=self._table,
            Key={"id": {"S": f"label-counts#{run_id}"}},
            UpdateExpression="SET expiration = :expiration ADD labeled :labeled, unusable :unusable",
            ExpressionAttributeValues={
                ":expiration": {"N": str(int(time.time()) + KEEP_SECONDS)},
                ":labeled": {"N": str(labeled)},
                ":unusable": {"N": str(unusable)},
            },
            ReturnValues="ALL_NEW",
        )
        item = answer.get("Attributes", {})
        return LabelTally(
            labeled=int(item.get("labeled", {}).get("N", "0")),
            unusable=int(item.get("unusable", {}).get("N", "0")),
        )
