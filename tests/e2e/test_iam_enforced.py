"""The offline stack refuses what a function's policy does not grant, as AWS would."""

import pytest
from local import iam_guard
from local.iam_policy import Policy
from local.outbox import published
from local.sample_data import png
from local.stack import PHYSICAL, LocalStack

from tests.e2e.test_full_chain import kinds, upload_flowers

pytestmark = pytest.mark.e2e


def without_statement(stack: LocalStack, function: str, sid: str) -> None:
    """The function's policy less one statement (a grant someone forgot)."""
    policy = stack.iam.policies[function]
    kept = tuple(statement for statement in policy.statements if statement.sid != sid)
    assert len(kept) == len(policy.statements) - 1, f"{function} has no statement {sid}"
    stack.iam.policies[function] = Policy(kept)


def test_a_function_without_its_grant_is_denied_and_the_run_fails(stack: LocalStack) -> None:
    # Given start_labeling's policy without CreateLabelingJobs
    without_statement(stack, "StartLabelingFunction", "CreateLabelingJobs")
    upload_flowers(stack)

    # When the chain runs
    stack.run_until_quiet()

    # Then SageMaker's refusal is AWS's, the run stops before labeling, and it is visible
    denied = [line for line in stack.iam.problems if "sagemaker:CreateLabelingJob" in line]
    assert denied, stack.iam.problems
    assert (
        "StartLabelingFunction: sagemaker.CreateLabelingJob: User: arn:aws:sts::123456789012:"
        "assumed-role/StartLabelingFunctionRole/StartLabelingFunction is not authorized to perform: "
        "sagemaker:CreateLabelingJob on resource: "
        "arn:aws:sagemaker:us-east-1:123456789012:labeling-job/sagechain-"
    ) in denied[0]
    assert denied[0].endswith(
        "because no identity-based policy allows the sagemaker:CreateLabelingJob action"
    )
    assert kinds(stack) == ["Dataset Prepared", "Labeling Failed"]
    [body] = [
        message
        for subject, message in published(PHYSICAL["NotificationTopic"])
        if "Labeling" in (subject or "")
    ]
    assert "is not authorized to perform: sagemaker:CreateLabelingJob" in body
    iam_guard.PROBLEMS.clear()  # the denial is this test's point


def test_a_missing_object_reads_as_denied_to_a_function_that_may_not_list_the_bucket(
    stack: LocalStack,
) -> None:
    # Given predict's policy without s3:ListBucket (S3 then answers a missing key with 403)
    without_statement(stack, "PredictFunction", "TellMissingModelsFromDenied")
    api = stack.api()

    # When an unknown model is asked for a prediction
    answer = api.handle("POST", "/models/nosuch/predict", {"Content-Type": "image/png"}, png(4, 4, (0, 0, 0)))

    # Then it is no 404: S3 refused the read, as it would on AWS
    assert answer.status != 404
    [denied] = stack.iam.problems
    assert "s3.GetObject" in denied
    assert "s3:GetObject on resource: arn:aws:s3:::sagechain-demo-data/models/" in denied
    iam_guard.PROBLEMS.clear()  # the denial is this test's point
