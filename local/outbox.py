"""The demo's outbox: every email notify publishes to the SNS topic, as a file a person can read."""

import re
from pathlib import Path

from moto.sns.models import sns_backends

from local.template import ACCOUNT, REGION


def published(topic_arn: str) -> list[tuple[str | None, str]]:
    """(subject, message) of every message published to the topic, read from moto's SNS backend."""
    topic = sns_backends[ACCOUNT][REGION].topics[topic_arn]
    return [(subject, message) for _, message, subject, _, _ in topic.sent_notifications]


class Outbox:
    """Writes each newly published email to <folder>/<n>-<subject>.txt."""

    def __init__(self, topic_arn: str, folder: Path) -> None:
        self._topic_arn = topic_arn
        self.folder = folder
        self._seen = 0
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.txt"):
            old.unlink()

    def collect(self) -> list[tuple[Path, str]]:
        """The emails sent since the last call, written to files: (file, subject)."""
        emails = published(self._topic_arn)
        new, self._seen = emails[self._seen :], len(emails)
        written = []
        for offset, (subject, message) in enumerate(new, start=self._seen - len(new) + 1):
            title = subject or "(no subject)"
            slug = re.sub(r"[^a-zA-Z0-9]+", "-", title).strip("-")[:60].lower()
            path = self.folder / f"{offset:03}-{slug}.txt"
            path.write_text(f"Subject: {title}\n\n{message}\n")
            written.append((path, title))
        return written
