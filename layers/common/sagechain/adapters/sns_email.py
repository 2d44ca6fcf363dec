"""SNS: the notification topic, whose email subscribers get every stage's message, and who they are."""

from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from sagechain.adapters.clients import sns_client
from sagechain.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient


class SnsEmailSender:
    """Publishes plain-text messages; email subscribers see the subject line."""

    def __init__(self, topic_arn: str, client: "SNSClient | None" = None) -> None:
        # The client is made on first use: track_run builds a sender at import, and most of its
        # invocations never ask SNS anything (only a run's first event does).
        self._given = client
        self._topic_arn = topic_arn

    @property
    def _client(self) -> "SNSClient":
        return self._given or sns_client()

    def send(self, subject: str, body: str) -> None:
        """Publish one message; SDK errors propagate so the event is retried."""
        self._client.publish(TopicArn=self._topic_arn, Subject=subject, Message=body)

    def confirmed(self) -> int | None:
        """Confirmed subscriptions, or None when SNS cannot say (the question is advisory: no
        caller fails for it). An unconfirmed one is listed with SubscriptionArn
        "PendingConfirmation" (SNS API reference, ListSubscriptionsByTopic and Subscribe)."""
        pages = self._client.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=self._topic_arn)
        try:
            return sum(
                1
                for page in pages
                for subscription in page.get("Subscriptions", [])
                if subscription.get("SubscriptionArn", "").startswith("arn:")
            )
        except (ClientError, BotoCoreError) as err:
            logger.warning("could not list the topic's subscriptions", extra={"error": str(err)})
            return None
