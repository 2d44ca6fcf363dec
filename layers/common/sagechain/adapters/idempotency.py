"""Powertools idempotency backed by the stack's DynamoDB table."""

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, cast

import boto3
from aws_lambda_powertools.shared.user_agent import register_feature_to_client
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

from sagechain.adapters.clients import CLIENT_CONFIG

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# How long a finished invocation's result answers duplicates: longer than any redelivery.
WINDOW_SECONDS = 7 * 24 * 3600


# Stands in for the client while Powertools' constructor runs: it has no `meta`, so Powertools'
# user-agent registration skips it (shared.user_agent.register_feature_to_client).
_NOT_YET = object()


class LazyDynamoDBPersistenceLayer(DynamoDBPersistenceLayer):
    """Powertools' DynamoDB store, creating its client on first use: Powertools' own creates a
    boto3 session and client when the handler module loads, on every cold start (about 100 ms
    each), even when the invocation never reaches an idempotent call."""

    _client: Any = _NOT_YET
    _ready = False

    def __init__(self, table_name: str) -> None:
        super().__init__(table_name=table_name, boto3_client=cast("DynamoDBClient", _NOT_YET))
        self._ready = True

    @property
    def client(self) -> "DynamoDBClient":
        """The DynamoDB client, created on first use."""
        if self._client is _NOT_YET and self._ready:
            self._client = boto3.client("dynamodb", config=CLIENT_CONFIG)
            register_feature_to_client(client=self._client, feature="idempotency")  # type: ignore[no-untyped-call]
        return cast("DynamoDBClient", self._client)

    @client.setter
    def client(self, value: "DynamoDBClient") -> None:
        self._client = value


def persistence_layer(table_name: str) -> DynamoDBPersistenceLayer:
    """The idempotency store: key `id`, TTL `expiration` (Powertools' defaults)."""
    return LazyDynamoDBPersistenceLayer(table_name)


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
