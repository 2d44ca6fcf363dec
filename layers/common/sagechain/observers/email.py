"""What every observer email shares: its subject line and a plain-text body in fixed sections.

notify emails each stage's facts; report_failures emails what a failure queue parked. Both
use one subject format and one body layout, so a reader sees the same email every time.
"""

import unicodedata
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict

from sagechain.console import s3_uri_console_url

# SNS Publish: "Subjects must be UTF-8 text with no line breaks or control characters, and
# less than 100 characters long" (botocore's SNS service model, Publish.Subject).
SUBJECT_MAX = 99
ELLIPSIS = "…"


class Email(BaseModel):
    """One email, and what it is about (its idempotency key)."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    key: str
    subject: str
    body: str


def _one_line(text: str) -> str:
    """Control characters (newlines included) become spaces: S3 keys, hence dataset names, may hold them."""
    return "".join(" " if unicodedata.category(c).startswith("C") else c for c in text).strip()


def subject_line(dataset: str | None, stage: str, run_id: str | None) -> str:
    """'[sagechain] <dataset>: <stage> (run <run_id>)', the dataset shortened to fit SNS's limit;
    without a dataset or a run, that part is left out."""
    tail = f" (run {run_id})" if run_id else ""
    if dataset is None:
        return f"[sagechain] {stage}{tail}"[:SUBJECT_MAX]
    tail = f": {stage}{tail}"
    head = "[sagechain] "
    name = _one_line(dataset)
    room = SUBJECT_MAX - len(head) - len(tail)
    if len(name) > room:
        name = name[: max(room - 1, 1)].rstrip() + ELLIPSIS
    return f"{head}{name}{tail}"[:SUBJECT_MAX]


class EmailBody:
    """A plain-text email: a headline, then titled sections of indented lines."""

    def __init__(self, headline: str) -> None:
        self._blocks = [headline]

    def section(self, title: str, lines: list[str]) -> "EmailBody":
        """A titled section; lines for a title already there are added to that section."""
        if not lines:
            return self
        head = "\n".join([title, "-" * len(title)])
        indented = [f"  {line}" for line in lines]
        for index, block in enumerate(self._blocks[1:], start=1):
            if block.startswith(head + "\n"):
                self._blocks[index] = "\n".join([block, *indented])
                return self
        self._blocks.append("\n".join([head, *indented]))
        return self

    def happened(self, *lines: str) -> "EmailBody":
        return self.section("What happened", list(lines))

    def reason(self, reason: str | None) -> "EmailBody":
        # Verbatim: the words SageMaker or the stage used, never reworded.
        return self.section("Reason", reason.splitlines() if reason else ["(SageMaker gave no reason)"])

    def figures(self, pairs: list[tuple[str, str | int | None]], title: str = "Key figures") -> "EmailBody":
        shown = [(label, str(value)) for label, value in pairs if value is not None and value != ""]
        width = max((len(label) for label, _ in shown), default=0)
        lines = []
        for label, value in shown:
            lines.append(f"{label + ':':<{width + 1}} {value}")
            if value.startswith("s3://"):
                lines.append(f"{'':<{width + 1}} {s3_uri_console_url(value)}")
        return self.section(title, lines)

    def links(self, pairs: list[tuple[str, str | None]]) -> "EmailBody":
        """Labelled links; an s3:// location gets its S3 console page beside it (one click)."""
        lines = []
        for label, url in pairs:
            if not url:
                continue
            lines.append(f"{label}: {url}")
            if url.startswith("s3://"):
                lines.append(f"{label} in the S3 console: {s3_uri_console_url(url)}")
        return self.section("Links", lines)

    def next(self, *lines: str) -> "EmailBody":
        return self.section("What to do next", list(lines))

    def render(
        self, run_id: str | None, dataset: str | None, at: datetime, uploaded_by: str | None = None
    ) -> str:
        """The body with its footer: run, dataset and time, and who uploaded the dataset."""
        when = at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        footer = "-- \nsagechain" + (f", run {run_id}" if run_id else "")
        footer += (f", dataset {dataset}" if dataset else "") + f", {when}"
        if uploaded_by:
            footer += f"\ndataset uploaded by {uploaded_by}"
        return "\n\n".join([*self._blocks, footer]) + "\n"
