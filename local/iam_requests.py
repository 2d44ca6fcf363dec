"""What IAM authorizes for one API call: its actions, resource ARNs and request context.

Each operation a function calls has an entry here, written from the Service Authorization
Reference (https://docs.aws.amazon.com/service-authorization/latest/reference/): list_amazons3.html,
list_amazondynamodb.html, list_amazonsns.html, list_amazonsqs.html, list_amazoneventbridge.html,
list_amazonsagemaker.html, list_applicationautoscaling.html, list_amazoneventbridgescheduler.html,
list_amazoncloudwatch.html.
An operation without an entry is refused (NoIamMappingError): nothing is allowed because nobody
wrote down what it needs.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from local.iam_policy import ContextValues, Request

# The role SageMaker Create* requests pass, and to whom (iam:PassRole's condition key).
_PASSED_TO_SAGEMAKER = {"iam:PassedToService": ("sagemaker.amazonaws.com",)}


class NoIamMappingError(Exception):
    """An API call whose IAM actions nobody wrote down: the offline stack refuses to guess."""


class Resources(Protocol):
    """What the mapping must look up in the stack's state to authorize a call."""

    def tags(self, arn: str) -> dict[str, str]:
        """The tags of a SageMaker resource (empty when it has none or does not exist)."""
        ...

    def object_exists(self, bucket: str, key: str) -> bool:
        """Whether the S3 object exists (a missing one needs s3:ListBucket to read as 404)."""
        ...

    def scalable_target_arn(self, namespace: str, resource_id: str, dimension: str) -> str | None:
        """The ARN of a registered scalable target, None when there is none."""
        ...

    def target_tags(self, namespace: str, resource_id: str, dimension: str) -> dict[str, str]:
        """The tags a scalable target was registered with."""
        ...


@dataclass(frozen=True)
class Call:
    """One API call as a handler made it."""

    service: str  # botocore's service name: s3, sagemaker-runtime, application-autoscaling ...
    operation: str
    params: dict[str, Any]
    region: str
    account: str

    def arn(self, service: str, resource: str) -> str:
        """An ARN of this call's region and account."""
        return f"arn:aws:{service}:{self.region}:{self.account}:{resource}"


@dataclass(frozen=True)
class Authorization:
    """The requests IAM evaluates for one call; `if_missing` applies only when the S3 object is absent."""

    requests: list[Request]
    if_missing: Request | None = None


_Mapper = Callable[[Call, Resources], Authorization]
_MAPPINGS: dict[tuple[str, str], _Mapper] = {}


def authorization(call: Call, resources: Resources) -> Authorization:
    """The IAM requests of one API call, or NoIamMappingError."""
    mapper = _MAPPINGS.get((call.service, call.operation))
    if mapper is None:
        raise NoIamMappingError(
            f"no IAM mapping for {call.service}.{call.operation} (add it to local/iam_requests.py)"
        )
    return mapper(call, resources)


def _maps(service: str, *operations: str) -> Callable[[_Mapper], _Mapper]:
    def register(mapper: _Mapper) -> _Mapper:
        for operation in operations:
            _MAPPINGS[(service, operation)] = mapper
        return mapper

    return register


def _one(*requests: Request) -> Authorization:
    return Authorization(list(requests))


def _request_tags(tags: dict[str, str]) -> dict[str, ContextValues]:
    """aws:RequestTag/<key> per tag and aws:TagKeys (multivalued), as a tagged request carries them."""
    if not tags:
        return {}
    context: dict[str, ContextValues] = {f"aws:RequestTag/{key}": (value,) for key, value in tags.items()}
    context["aws:TagKeys"] = tuple(tags)
    return context


def _resource_tags(tags: dict[str, str]) -> dict[str, ContextValues]:
    return {f"aws:ResourceTag/{key}": (value,) for key, value in tags.items()}


# ------------------------------------------------------------------ S3 (list_amazons3.html)
def _object_arn(bucket: str, key: str) -> str:
    return f"arn:aws:s3:::{bucket}/{key}"


@_maps("s3", "GetObject", "HeadObject")
def _read_object(call: Call, resources: Resources) -> Authorization:
    # HeadObject is authorized as s3:GetObject; a VersionId makes it s3:GetObjectVersion.
    params = call.params
    action = "s3:GetObjectVersion" if params.get("VersionId") else "s3:GetObject"
    read = Request(action, _object_arn(params["Bucket"], params["Key"]))
    # S3 answers a missing object with 404 only to a caller who may list the bucket; else 403.
    missing = not resources.object_exists(params["Bucket"], params["Key"])
    return Authorization(
        [read], Request("s3:ListBucket", f"arn:aws:s3:::{params['Bucket']}") if missing else None
    )


@_maps("s3", "PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload")
def _write_object(call: Call, _: Resources) -> Authorization:
    # Every step of a multipart upload is authorized as s3:PutObject.
    return _one(Request("s3:PutObject", _object_arn(call.params["Bucket"], call.params["Key"])))


@_maps("s3", "AbortMultipartUpload")
def _abort_upload(call: Call, _: Resources) -> Authorization:
    return _one(Request("s3:AbortMultipartUpload", _object_arn(call.params["Bucket"], call.params["Key"])))


@_maps("s3", "DeleteObject")
def _delete_object(call: Call, _: Resources) -> Authorization:
    action = "s3:DeleteObjectVersion" if call.params.get("VersionId") else "s3:DeleteObject"
    return _one(Request(action, _object_arn(call.params["Bucket"], call.params["Key"])))


@_maps("s3", "DeleteObjects")
def _delete_objects(call: Call, _: Resources) -> Authorization:
    bucket = call.params["Bucket"]
    return _one(
        *(
            Request(
                "s3:DeleteObjectVersion" if entry.get("VersionId") else "s3:DeleteObject",
                _object_arn(bucket, entry["Key"]),
            )
            for entry in call.params["Delete"]["Objects"]
        )
    )


@_maps("s3", "CopyObject")
def _copy_object(call: Call, __: Resources) -> Authorization:
    source = call.params["CopySource"]
    if isinstance(source, str):
        path, _, version = source.lstrip("/").partition("?versionId=")
        bucket, _, key = path.partition("/")
        source = {"Bucket": bucket, "Key": key, "VersionId": version}
    read = "s3:GetObjectVersion" if source.get("VersionId") else "s3:GetObject"
    return _one(
        Request(read, _object_arn(source["Bucket"], source["Key"])),
        Request("s3:PutObject", _object_arn(call.params["Bucket"], call.params["Key"])),
    )


@_maps("s3", "ListObjectsV2", "ListObjects")
def _list_bucket(call: Call, _: Resources) -> Authorization:
    context: dict[str, ContextValues] = {}
    for param, key in (("Prefix", "s3:prefix"), ("Delimiter", "s3:delimiter"), ("MaxKeys", "s3:max-keys")):
        if param in call.params:
            context[key] = (str(call.params[param]),)
    return _one(Request("s3:ListBucket", f"arn:aws:s3:::{call.params['Bucket']}", context))


# ------------------------------------------------------------------ DynamoDB (list_amazondynamodb.html)
@_maps("dynamodb", "GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query")
def _table_item(call: Call, _: Resources) -> Authorization:
    resource = f"table/{call.params['TableName']}"
    if call.params.get("IndexName"):
        resource += f"/index/{call.params['IndexName']}"
    return _one(Request(f"dynamodb:{call.operation}", call.arn("dynamodb", resource)))


# ------------------------------------------------------------------ SNS (list_amazonsns.html)
@_maps("sns", "Publish", "ListSubscriptionsByTopic")
def _topic(call: Call, _: Resources) -> Authorization:
    return _one(Request(f"sns:{call.operation}", call.params["TopicArn"]))


# ------------------------------------------------------------------ SQS (list_amazonsqs.html)
@_maps("sqs", "ReceiveMessage", "DeleteMessage", "GetQueueAttributes", "SendMessage")
def _queue(call: Call, _: Resources) -> Authorization:
    name = str(call.params["QueueUrl"]).rstrip("/").rsplit("/", 1)[-1]
    return _one(Request(f"sqs:{call.operation}", call.arn("sqs", name)))


# SendMessageBatch is authorized as sqs:SendMessage (list_amazonsqs.html: no action of its own).
@_maps("sqs", "SendMessageBatch")
def _queue_batch(call: Call, _: Resources) -> Authorization:
    name = str(call.params["QueueUrl"]).rstrip("/").rsplit("/", 1)[-1]
    return _one(Request("sqs:SendMessage", call.arn("sqs", name)))


# ------------------------------------------------------------------ EventBridge Scheduler
# (list_amazoneventbridgescheduler.html): a schedule's ARN is schedule/<group>/<name>; Create and
# Update pass the target's role (iam:PassRole, to scheduler.amazonaws.com).
@_maps("scheduler", "CreateSchedule", "UpdateSchedule", "DeleteSchedule")
def _schedule(call: Call, _: Resources) -> Authorization:
    params = call.params
    arn = call.arn("scheduler", f"schedule/{params.get('GroupName') or 'default'}/{params['Name']}")
    requests = [Request(f"scheduler:{call.operation}", arn)]
    role = params.get("Target", {}).get("RoleArn")
    if role:
        requests.append(Request("iam:PassRole", role, {"iam:PassedToService": ("scheduler.amazonaws.com",)}))
    return Authorization(requests)


# ListSchedules has no resource type: its resource is "*" (list_amazoneventbridgescheduler.html).
@_maps("scheduler", "ListSchedules")
def _list_schedules(call: Call, _: Resources) -> Authorization:
    return _one(Request("scheduler:ListSchedules", "*"))


# ------------------------------------------------------------------ EventBridge (list_amazoneventbridge.html)
@_maps("events", "PutEvents")
def _put_events(call: Call, _: Resources) -> Authorization:
    buses = {str(entry.get("EventBusName") or "default") for entry in call.params["Entries"]}
    return _one(
        *(
            Request(
                "events:PutEvents", bus if bus.startswith("arn:") else call.arn("events", f"event-bus/{bus}")
            )
            for bus in sorted(buses)
        )
    )


# ------------------------------------------------------------------ SageMaker (list_amazonsagemaker.html)
def _sagemaker_arn(call: Call, kind: str, name: str) -> str:
    # SageMaker writes resource names lower-cased in its ARNs.
    return call.arn("sagemaker", f"{kind}/{name.lower()}")


_NAMED = {
    "DescribeTrainingJob": ("training-job", "TrainingJobName"),
    "DescribeHyperParameterTuningJob": ("hyper-parameter-tuning-job", "HyperParameterTuningJobName"),
    "DescribeLabelingJob": ("labeling-job", "LabelingJobName"),
    "DescribeEndpoint": ("endpoint", "EndpointName"),
    "DescribeEndpointConfig": ("endpoint-config", "EndpointConfigName"),
    "DescribeModel": ("model", "ModelName"),
    "DescribeTransformJob": ("transform-job", "TransformJobName"),
    # Authorized on the tuning job whose trials it lists (api-permissions-reference.html).
    "ListTrainingJobsForHyperParameterTuningJob": (
        "hyper-parameter-tuning-job",
        "HyperParameterTuningJobName",
    ),
}


@_maps("sagemaker", *_NAMED)
def _describe(call: Call, _: Resources) -> Authorization:
    kind, param = _NAMED[call.operation]
    return _one(Request(f"sagemaker:{call.operation}", _sagemaker_arn(call, kind, call.params[param])))


# DescribeWorkteam names a team; its ARN is workteam/private-crowd/<name> for a private team
# (vendor teams are described by their product listing, never by start_labeling).
@_maps("sagemaker", "DescribeWorkteam")
def _describe_workteam(call: Call, _: Resources) -> Authorization:
    arn = call.arn("sagemaker", f"workteam/private-crowd/{call.params['WorkteamName']}")
    return _one(Request("sagemaker:DescribeWorkteam", arn))


# List* have no resource-level permissions: their resource is "*" (list_amazonsagemaker.html).
@_maps(
    "sagemaker",
    "ListEndpoints",
    "ListEndpointConfigs",
    "ListModels",
    "ListLabelingJobs",
    "ListTrainingJobs",
    "ListHyperParameterTuningJobs",
    "ListTransformJobs",
)
def _list_hosting(call: Call, _: Resources) -> Authorization:
    return _one(Request(f"sagemaker:{call.operation}", "*"))


_DELETED = {
    "DeleteEndpoint": ("endpoint", "EndpointName"),
    "DeleteEndpointConfig": ("endpoint-config", "EndpointConfigName"),
    "DeleteModel": ("model", "ModelName"),
}


# Delete* authorize on the resource and its tags (aws:ResourceTag/*, list_amazonsagemaker.html).
@_maps("sagemaker", *_DELETED)
def _delete_hosting(call: Call, resources: Resources) -> Authorization:
    kind, param = _DELETED[call.operation]
    arn = _sagemaker_arn(call, kind, call.params[param])
    return _one(Request(f"sagemaker:{call.operation}", arn, _resource_tags(resources.tags(arn))))


_STOPPED = {
    "StopTrainingJob": ("training-job", "TrainingJobName"),
    "StopLabelingJob": ("labeling-job", "LabelingJobName"),
    "StopHyperParameterTuningJob": ("hyper-parameter-tuning-job", "HyperParameterTuningJobName"),
    "StopTransformJob": ("transform-job", "TransformJobName"),
}


# Stop* authorize on the job and its tags (aws:ResourceTag/*, list_amazonsagemaker.html).
@_maps("sagemaker", *_STOPPED)
def _stop_job(call: Call, resources: Resources) -> Authorization:
    kind, param = _STOPPED[call.operation]
    arn = _sagemaker_arn(call, kind, call.params[param])
    return _one(Request(f"sagemaker:{call.operation}", arn, _resource_tags(resources.tags(arn))))


@_maps("sagemaker", "ListTags")
def _list_tags(call: Call, __: Resources) -> Authorization:
    prefix, _, name = str(call.params["ResourceArn"]).rpartition("/")
    return _one(Request("sagemaker:ListTags", f"{prefix}/{name.lower()}"))


def _vpc_and_isolation(config: dict[str, Any]) -> dict[str, ContextValues]:
    context: dict[str, ContextValues] = {}
    vpc = config.get("VpcConfig") or {}
    if vpc.get("Subnets"):
        context["sagemaker:VpcSubnets"] = tuple(vpc["Subnets"])
    if vpc.get("SecurityGroupIds"):
        context["sagemaker:VpcSecurityGroupIds"] = tuple(vpc["SecurityGroupIds"])
    if "EnableNetworkIsolation" in config:
        context["sagemaker:NetworkIsolation"] = (str(bool(config["EnableNetworkIsolation"])).lower(),)
    return context


def _training_context(definitions: list[dict[str, Any]]) -> dict[str, ContextValues]:
    context: dict[str, ContextValues] = {}
    instance_types = [
        d["ResourceConfig"]["InstanceType"]
        for d in definitions
        if "InstanceType" in d.get("ResourceConfig", {})
    ]
    if instance_types:
        context["sagemaker:InstanceTypes"] = tuple(sorted(set(instance_types)))
    runtimes = [
        d["StoppingCondition"]["MaxRuntimeInSeconds"]
        for d in definitions
        if "MaxRuntimeInSeconds" in d.get("StoppingCondition", {})
    ]
    if runtimes:
        context["sagemaker:MaxRuntimeInSeconds"] = (str(max(runtimes)),)
    for definition in definitions:
        context.update(_vpc_and_isolation(definition))
    return context


_CREATED = {
    "CreateTrainingJob": ("training-job", "TrainingJobName"),
    "CreateHyperParameterTuningJob": ("hyper-parameter-tuning-job", "HyperParameterTuningJobName"),
    "CreateLabelingJob": ("labeling-job", "LabelingJobName"),
    "CreateModel": ("model", "ModelName"),
    "CreateEndpointConfig": ("endpoint-config", "EndpointConfigName"),
    "CreateEndpoint": ("endpoint", "EndpointName"),
    "CreateTransformJob": ("transform-job", "TransformJobName"),
}


@_maps("sagemaker", *_CREATED)
def _create(call: Call, _: Resources) -> Authorization:
    kind, param = _CREATED[call.operation]
    params = call.params
    arn = _sagemaker_arn(call, kind, params[param])
    tags = {tag["Key"]: tag["Value"] for tag in params.get("Tags", [])}
    context = _request_tags(tags)
    if call.operation == "CreateTrainingJob":
        context.update(_training_context([params]))
    elif call.operation == "CreateHyperParameterTuningJob":
        definitions = [params["TrainingJobDefinition"]] if "TrainingJobDefinition" in params else []
        context.update(_training_context(definitions + list(params.get("TrainingJobDefinitions", []))))
    elif call.operation == "CreateModel":
        context.update(_vpc_and_isolation(params))
    elif call.operation == "CreateEndpointConfig":
        variants = params["ProductionVariants"]
        context["sagemaker:InstanceTypes"] = tuple(
            sorted({v["InstanceType"] for v in variants if "InstanceType" in v})
        )
        context["sagemaker:ModelArn"] = tuple(_sagemaker_arn(call, "model", v["ModelName"]) for v in variants)
    elif call.operation == "CreateTransformJob":
        # Condition keys of CreateTransformJob: sagemaker:InstanceTypes and sagemaker:ModelArn among them.
        context["sagemaker:InstanceTypes"] = (params["TransformResources"]["InstanceType"],)
        context["sagemaker:ModelArn"] = (_sagemaker_arn(call, "model", params["ModelName"]),)
    requests = [Request(f"sagemaker:{call.operation}", arn, context)]
    if call.operation == "CreateEndpoint":
        # CreateEndpoint is authorized on the endpoint and on the configuration it uses.
        config_arn = _sagemaker_arn(call, "endpoint-config", params["EndpointConfigName"])
        requests.append(Request("sagemaker:CreateEndpoint", config_arn, context))
    if tags:
        # Tags sent with a Create* request are authorized as sagemaker:AddTags too.
        requests.append(
            Request(
                "sagemaker:AddTags",
                arn,
                {**_request_tags(tags), "sagemaker:TaggingAction": (call.operation,)},
            )
        )
    role = params.get("RoleArn") or params.get("ExecutionRoleArn")
    if call.operation == "CreateHyperParameterTuningJob":
        role = params.get("TrainingJobDefinition", {}).get("RoleArn")
    if role:
        requests.append(Request("iam:PassRole", role, dict(_PASSED_TO_SAGEMAKER)))
    return Authorization(requests)


@_maps("sagemaker", "UpdateEndpoint")
def _update_endpoint(call: Call, resources: Resources) -> Authorization:
    # Authorized on the endpoint and on the new configuration, each with its own tags.
    arns = [
        _sagemaker_arn(call, "endpoint", call.params["EndpointName"]),
        _sagemaker_arn(call, "endpoint-config", call.params["EndpointConfigName"]),
    ]
    requests = [Request("sagemaker:UpdateEndpoint", arn, _resource_tags(resources.tags(arn))) for arn in arns]
    # Auto-rollback alarms: the caller must be allowed to describe them ("Ensure that your IAM
    # execution role has permission to perform the cloudwatch:DescribeAlarms action on the auto-rollback
    # alarms": https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-configuration.html).
    rollback = (call.params.get("DeploymentConfig") or {}).get("AutoRollbackConfiguration") or {}
    requests += [
        Request("cloudwatch:DescribeAlarms", _alarm_arn(call, alarm["AlarmName"]))
        for alarm in rollback.get("Alarms", [])
    ]
    return Authorization(requests)


@_maps("sagemaker", "UpdateEndpointWeightsAndCapacities")
def _update_capacities(call: Call, resources: Resources) -> Authorization:
    arn = _sagemaker_arn(call, "endpoint", call.params["EndpointName"])
    return _one(
        Request("sagemaker:UpdateEndpointWeightsAndCapacities", arn, _resource_tags(resources.tags(arn)))
    )


@_maps("sagemaker-runtime", "InvokeEndpoint")
def _invoke_endpoint(call: Call, resources: Resources) -> Authorization:
    # SageMaker Runtime's actions carry the sagemaker prefix.
    arn = _sagemaker_arn(call, "endpoint", call.params["EndpointName"])
    return _one(Request("sagemaker:InvokeEndpoint", arn, _resource_tags(resources.tags(arn))))


# ------------------------------------------------------------------ Application Auto Scaling
# (list_applicationautoscaling.html; the actions each call needs of the target service and of
# CloudWatch: Application Auto Scaling guide, "Identity and access management", "Permissions
# required for API actions on target services and CloudWatch").
@_maps("application-autoscaling", "DescribeScalableTargets", "DescribeScalingPolicies")
def _describe_scaling(call: Call, _: Resources) -> Authorization:
    # Describe* have no resource-level permissions.
    return _one(Request(f"application-autoscaling:{call.operation}", "*"))


def _target(call: Call, resources: Resources) -> tuple[str, dict[str, ContextValues], str | None]:
    params = call.params
    existing = resources.scalable_target_arn(
        params["ServiceNamespace"], params["ResourceId"], params["ScalableDimension"]
    )
    context: dict[str, ContextValues] = {
        "application-autoscaling:service-namespace": (params["ServiceNamespace"],),
        "application-autoscaling:scalable-dimension": (params["ScalableDimension"],),
    }
    if existing:
        tags = resources.target_tags(
            params["ServiceNamespace"], params["ResourceId"], params["ScalableDimension"]
        )
        context.update(_resource_tags(tags))
    # A target not registered yet has no ARN: its id is AWS's to choose.
    return existing or call.arn("application-autoscaling", "scalable-target/new"), context, existing


def _endpoint_of(call: Call) -> str:
    # ResourceId: endpoint/<name>/variant/<variant>
    return _sagemaker_arn(call, "endpoint", str(call.params["ResourceId"]).split("/")[1])


def _alarm(call: Call) -> str:
    return call.arn("cloudwatch", f"alarm:TargetTracking-{call.params['ResourceId']}-AlarmHigh")


@_maps("application-autoscaling", "RegisterScalableTarget")
def _register_target(call: Call, resources: Resources) -> Authorization:
    arn, context, existing = _target(call, resources)
    tags = dict(call.params.get("Tags") or {})
    context.update(_request_tags(tags))
    requests = [Request("application-autoscaling:RegisterScalableTarget", arn, context)]
    if tags:
        requests.append(Request("application-autoscaling:TagResource", arn, context))
    if call.params["ServiceNamespace"] == "sagemaker":
        endpoint = _endpoint_of(call)
        endpoint_tags = _resource_tags(resources.tags(endpoint))
        requests += [
            Request("sagemaker:DescribeEndpoint", endpoint),
            Request("sagemaker:UpdateEndpointWeightsAndCapacities", endpoint, endpoint_tags),
        ]
        if existing is None:
            # The account's first SageMaker target creates the service-linked role.
            requests.append(
                Request(
                    "iam:CreateServiceLinkedRole",
                    f"arn:aws:iam::{call.account}:role/aws-service-role/sagemaker.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint",
                    {"iam:AWSServiceName": ("sagemaker.application-autoscaling.amazonaws.com",)},
                )
            )
    return Authorization(requests)


@_maps("application-autoscaling", "DeregisterScalableTarget")
def _deregister_target(call: Call, resources: Resources) -> Authorization:
    arn, context, _ = _target(call, resources)
    # Deregistering deletes the target's scaling policies and their alarms.
    return _one(
        Request("application-autoscaling:DeregisterScalableTarget", arn, context),
        Request("cloudwatch:DescribeAlarms", _alarm(call)),
        Request("cloudwatch:DeleteAlarms", _alarm(call)),
    )


@_maps("application-autoscaling", "PutScalingPolicy")
def _put_scaling_policy(call: Call, resources: Resources) -> Authorization:
    arn, context, _ = _target(call, resources)
    # Target tracking creates (and replaces) its CloudWatch alarms.
    return _one(
        Request("application-autoscaling:PutScalingPolicy", arn, context),
        Request("cloudwatch:DescribeAlarms", _alarm(call)),
        Request("cloudwatch:PutMetricAlarm", _alarm(call)),
        Request("cloudwatch:DeleteAlarms", _alarm(call)),
    )


# ------------------------------------------------------------------ CloudWatch (list_amazoncloudwatch.html)
# Alarms are resources alarm:<name>. PutMetricAlarm takes aws:RequestTag/aws:TagKeys, and an alarm
# created with tags needs cloudwatch:TagResource too (CloudWatch guide, "Alarms and tagging").
def _alarm_arn(call: Call, name: str) -> str:
    return call.arn("cloudwatch", f"alarm:{name}")


@_maps("cloudwatch", "PutMetricAlarm")
def _put_alarm(call: Call, _: Resources) -> Authorization:
    arn = _alarm_arn(call, call.params["AlarmName"])
    tags = {tag["Key"]: tag["Value"] for tag in call.params.get("Tags", [])}
    requests = [Request("cloudwatch:PutMetricAlarm", arn, _request_tags(tags))]
    if tags:
        requests.append(Request("cloudwatch:TagResource", arn, _request_tags(tags)))
    return Authorization(requests)


@_maps("cloudwatch", "DescribeAlarms", "DeleteAlarms")
def _named_alarms(call: Call, _: Resources) -> Authorization:
    names = call.params.get("AlarmNames") or []
    if not names:
        # DescribeAlarms without names (or by prefix) lists every alarm it may see: resource "*".
        return _one(Request(f"cloudwatch:{call.operation}", "*"))
    return _one(*(Request(f"cloudwatch:{call.operation}", _alarm_arn(call, name)) for name in names))
