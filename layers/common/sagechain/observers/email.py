"""What every observer email shares: its subject line and a plain-text body in fixed sections.

notify emails each stage's facts; report_failures emails what a failure queue parked. Both
use one subject format and one body layout, so a reader sees the same email every time.
"""

import unicodedata
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict

# SNS Publish: "Subjects must be UTF-8 text with no line breaks or control characters, and
# less than 100 characters long" (botocore's SNS service model, Publish.Subject).
SUBJECT_MAX = 99
ELLIPSIS = "…"


class Email(BaseModel):
    """One email, and what it is about (its idempotency key)."""

    model_config = ConfigDict(frozen=True)

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
        """A titled section; lines for the title of the last section are added to it."""
        if not lines:
            return self
        head = "\n".join([title, "-" * len(title)])
        indented = [f"  {line}" for line in lines]
        if len(self._blocks) > 1 and self._blocks[-1].startswith(head + "\n"):
            self._blocks[-1] = "\n".join([self._blocks[-1], *indented])
        else:
            self._blocks.append("\n".join([head, *indented]))
        return self

    def happened(self, *lines: str) -> "EmailBody":
        return self.section("What happened", list(lines))

    def reason(self, reason: str | None) -> "EmailBody":
        # Verbatim: the words SageMaker or the stage used, never reworded.
        return self.section("Reason", reason.splitlines() if reason else ["(SageMaker gave no reason)"])

    def figures(self, pairs: list[tuple[str, str | int | None]]) -> "EmailBody":
        shown = [(label, str(value)) for label, value in pairs if value is not None and value != ""]
        width = max((len(label) for label, _ in shown), default=0)
        return self.section("Key figures", [f"{label + ':':<{width + 1}} {value}" for label, value in shown])

    def links(self, pairs: list[tuple[str, str | None]]) -> "EmailBody":
        return self.section("Links", [f"{label}: {url}" for label, url in pairs if url])

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
