"""runs/<run_id>/run.json: what later stages need to know about a run besides its spec."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class RunInfo(BaseModel):
    """The run's identity and where its data is."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    dataset: str
    source_uri: str
    source_version: str | None
    task: str
    labeling_mode: str
    label_attribute: str
    manifest_uri: str
    objects: int
    created_at: datetime
