"""SQS: the messages a stage sends to its own queue."""

from typing import TYPE_CHECKING

from sagechain.adapters.clients import sqs_client

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

# SendMessageBatch takes at most 10 entries
# (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessageBatch.html).
_BATCH_ENTRIES = 10


class SqsQueue:
    """One queue, as ports.MessageQueue."""

    def __init__(self, queue_url: str, client: "SQSClient | None" = None) -> None:
        self._client = client or sqs_client()
        self.queue_url = queue_url

    def send_all(self, bodies: list[str]) -> None:
        """SendMessageBatch, ten at a time; an entry SQS refuses raises, so the event is retried."""
        for start in range(0, len(bodies), _BATCH_ENTRIES):
            chunk = bodies[start : start + _BATCH_ENTRIES]
            answer = self._client.send_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(number), "MessageBody": body} for number, body in enumerate(chunk)],
            )
            failed = answer.get("Failed", [])
            if failed:
                codes = ", ".join(f"{entry['Id']}: {entry['Code']}" for entry in failed)
                raise RuntimeError(f"SQS refused {len(failed)} of {len(chunk)} messages ({codes})")
