"""Grants no e2e test exercises yet, each with why it is kept (issue 14: a test or the grant goes).

tests/e2e/test_iam_grants.py fails on an unexercised grant missing here, and on an entry here
that a test now exercises; docs/iam.md shows the reasons.
"""

_POWERTOOLS_GET = (
    "Powertools idempotency reads a record with GetItem only when a conflicting PutItem returns no "
    "item (DynamoDB returns it on AWS); its documented IAM needs GetItem"
)
_POWERTOOLS_DELETE = "Powertools idempotency deletes the in-progress record when the handler raises"
_ABORT = "s3transfer aborts a multipart upload whose part failed; no test fails an upload part"
_FORBIDDEN_UPDATE = "the forbidden-update path (deregister, update, re-register) has no e2e test"
_HAND_DELETED = (
    "asked only when models/<endpoint>/model.json is missing as the expiry schedule fires (deleted by "
    "hand), so S3 answers 404, not 403; no test deletes it"
)
_FAILURE_FALLBACK = "asked only when a failure event carries no FailureReason; the emulation always sends one"
_RETRY = (
    "asked only by POST /runs/{run_id}/retry in a case the e2e retry tests do not build (unit-tested "
    "against botocore's Stubber)"
)
_STUCK_BATCH = (
    "asked only when a start_batch or collect_batch message reaches its dead letter queue; no e2e test "
    "fails a batch stage on every delivery (tests/e2e/test_stage_dead_letters.py fails start_training's; "
    "tests/integration/test_report_failures_handler.py runs the handler on a batch message under moto; "
    "tests/unit/test_batch_dead_letters.py covers the cases)"
)

NOT_YET_EXERCISED: dict[str, dict[str, str]] = {
    "CollectBatchFunction": {
        "dynamodb:DeleteItem": _POWERTOOLS_DELETE,
        "dynamodb:GetItem": _POWERTOOLS_GET,
        "s3:AbortMultipartUpload": _ABORT,
    },
    "TeardownFunction": {
        "sagemaker:StopTransformJob": (
            "asked only when the stack is deleted while a batch runs; the e2e teardown tests delete it "
            "mid-training (tests/unit/test_teardown.py stops a transform job against botocore's Stubber)"
        ),
    },
    "StartBatchFunction": {
        "dynamodb:DeleteItem": _POWERTOOLS_DELETE,
        "dynamodb:GetItem": _POWERTOOLS_GET,
        "s3:AbortMultipartUpload": _ABORT,
        "scheduler:UpdateSchedule": (
            "asked only when the batch's deadline schedule exists already (a delivery retried after a crash "
            "between CreateSchedule and the record); no e2e test crashes start_batch there"
        ),
    },
    "RunControlFunction": {
        "s3:DeleteObject": "stop deletes a deployment waiting for a busy endpoint; no e2e test stops one",
        "sagemaker:StopHyperParameterTuningJob": "no e2e test stops a tuning run (training is tested)",
    },
    "ConfigureAutoscalingFunction": {
        "application-autoscaling:DeregisterScalableTarget": _FORBIDDEN_UPDATE,
        "application-autoscaling:DescribeScalableTargets": _FORBIDDEN_UPDATE,
        "dynamodb:DeleteItem": _POWERTOOLS_DELETE,
        "dynamodb:GetItem": _POWERTOOLS_GET,
    },
    "DeployModelFunction": {
        "dynamodb:DeleteItem": _POWERTOOLS_DELETE,
        "dynamodb:GetItem": _POWERTOOLS_GET,
        "sagemaker:DeleteEndpoint": _RETRY + " (a retry from deployment meets a Failed endpoint)",
    },
    "ExpireEndpointFunction": {
        "s3:ListBucket": _HAND_DELETED,
    },
    "PrepareDatasetFunction": {
        "dynamodb:DeleteItem": _POWERTOOLS_DELETE,
        "dynamodb:GetItem": _POWERTOOLS_GET,
        "s3:AbortMultipartUpload": _ABORT,
    },
    "ReportFailuresFunction": {
        "dynamodb:GetItem": _POWERTOOLS_GET,
        "sagemaker:StopTransformJob": _STUCK_BATCH + " (a job still running at a parked start or deadline)",
    },
    "StartLabelingFunction": {
        "dynamodb:GetItem": _POWERTOOLS_GET,
        "s3:AbortMultipartUpload": _ABORT,
    },
    "CollectLabelsFunction": {
        "dynamodb:DeleteItem": _POWERTOOLS_DELETE,
        "dynamodb:GetItem": _POWERTOOLS_GET,
        "s3:AbortMultipartUpload": (
            "the labeled manifest's streamed upload is aborted only when building it fails; no e2e test "
            "fails it (tests/unit/test_collect_labels.py kills it mid-stream)"
        ),
    },
    "StartTrainingFunction": {
        "dynamodb:GetItem": _POWERTOOLS_GET,
        "s3:AbortMultipartUpload": _ABORT,
        "sagemaker:DescribeTrainingJob": _RETRY + " (a sets run keeps its completed siblings)",
    },
    "TrackRunFunction": {
        "dynamodb:DeleteItem": _POWERTOOLS_DELETE,
        "dynamodb:GetItem": _POWERTOOLS_GET,
        "sagemaker:DescribeEndpoint": _FAILURE_FALLBACK,
    },
    "WatchRunsFunction": {
        "dynamodb:DeleteItem": _POWERTOOLS_DELETE,
        "dynamodb:GetItem": _POWERTOOLS_GET,
    },
}
