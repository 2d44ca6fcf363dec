"""SNS: the notification topic, whose email subscribers get every stage's message."""

from typing import TYPE_CHECKING

from sagechain.adapters.clients import sns_client

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient


class SnsEmailSender:
    """Publishes plain-text messages; email subscribers see the subject line."""

    def __init__(self, topic_arn: str, client: "SNSClient | None" = None) -> None:
        self._client = client or sns_client()
        self._topic_arn = topic_arn

    def send(self, subject: str, body: str) -> None:
        """Publish one message; SDK errors propagate so the event is retried."""
        self._client.publish(TopicArn=self._topic_arn, Subject=subject, Message=body)
