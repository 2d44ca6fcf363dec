"""Powertools idempotency backed by the stack's DynamoDB table."""

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

from sagechain.adapters.clients import CLIENT_CONFIG


def persistence_layer(table_name: str) -> DynamoDBPersistenceLayer:
    """The idempotency store: key `id`, TTL `expiration` (Powertools' defaults)."""
    return DynamoDBPersistenceLayer(table_name=table_name, boto_config=CLIENT_CONFIG)
