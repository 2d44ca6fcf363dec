"""Powertools idempotency backed by the stack's DynamoDB table."""

from collections.abc import Callable
from typing import Protocol, cast

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

from sagechain.adapters.clients import CLIENT_CONFIG

# How long a finished invocation's result answers duplicates: longer than any redelivery.
WINDOW_SECONDS = 7 * 24 * 3600


def persistence_layer(table_name: str) -> DynamoDBPersistenceLayer:
    """The idempotency store: key `id`, TTL `expiration` (Powertools' defaults)."""
    return DynamoDBPersistenceLayer(table_name=table_name, boto_config=CLIENT_CONFIG)


class OncePer(Protocol):
    """A decorator that keeps the decorated function's signature (Powertools' is untyped)."""

    def __call__[**P, R](self, function: Callable[P, R], /) -> Callable[P, R]:
        """The function, run once per key."""
        ...


def once_per(key: str, table_name: str, argument: str) -> tuple[IdempotencyConfig, OncePer]:
    """A decorator that runs a function once per `key` (a JMESPath into the model passed as
    `argument`), and the config the handler registers its Lambda context on.

    Key on what an event is about (a run, a job and its status), never the event id: the
    same fact may arrive in several events.
    """
    config = IdempotencyConfig(event_key_jmespath=key, expires_after_seconds=WINDOW_SECONDS)
    decorator = idempotent_function(
        data_keyword_argument=argument, config=config, persistence_store=persistence_layer(table_name)
    )
    return config, cast(OncePer, decorator)
