"""The worker task template and label categories file a labeling job reads from S3.

For image tasks, Ground Truth takes the worker UI from UiConfig.UiTemplateS3Uri (a
HumanTaskUiArn exists only for named entity recognition, 3D point cloud and video frame
tasks: API reference, UiConfig). AWS's template for each task type is used as published,
with only the header, short instructions and full instructions changed, as its page
says to (https://docs.aws.amazon.com/sagemaker/latest/dg/sms-image-classification.html and
the pages of the other task types): that is where the spec's instructions reach workers.
"""

import html
import json

from sagechain.labeling.ground_truth import TaskProfile

# The label category configuration file's format (CreateLabelingJob, LabelCategoryConfigS3Uri).
LABEL_CATEGORIES_VERSION = "2018-11-28"


def label_categories_document(labels: list[str]) -> bytes:
    """The label category configuration file: the labels in class-index order."""
    document = {
        "document-version": LABEL_CATEGORIES_VERSION,
        "labels": [{"label": label} for label in labels],
    }
    return json.dumps(document, ensure_ascii=False, indent=2).encode()


def _text(value: str) -> str:
    """Plain text made safe for HTML and for Liquid (which would evaluate {{ }} and {% %})."""
    return html.escape(value, quote=True).replace("{", "&#123;").replace("}", "&#125;")


def _paragraphs(value: str) -> str:
    """Plain text as HTML paragraphs: blank lines split paragraphs, newlines break lines."""
    blocks = [block.strip() for block in value.replace("\r\n", "\n").split("\n\n")]
    return "".join(f"<p>{_text(block).replace(chr(10), '<br>')}</p>" for block in blocks if block)


def worker_task_template(
    profile: TaskProfile, title: str, question: str, instructions: str, labels: list[str]
) -> bytes:
    """AWS's worker task template for the task type, with the spec's wording in it."""
    label_list = "".join(f"<li>{_text(label)}</li>" for label in labels)
    template = f"""<script src="https://assets.crowd.aws/crowd-html-elements.js"></script>
<crowd-form>
  <{profile.element}
    name="{profile.element_name}"
    src="{{{{ task.input.taskObject | grant_read_access }}}}"
    header="{_text(question)}"
    {profile.labels_attribute}="{{{{ task.input.labels | to_json | escape }}}}"
  >
    <full-instructions header="{_text(title)}">
      {_paragraphs(instructions)}
      <p>Labels:</p>
      <ul>{label_list}</ul>
    </full-instructions>
    <short-instructions>
      {_paragraphs(instructions)}
    </short-instructions>
  </{profile.element}>
</crowd-form>
"""
    return template.encode()
