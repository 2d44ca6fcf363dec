"""A LambdaContext as Lambda passes it, for calling handlers directly."""

from dataclasses import dataclass


@dataclass
class FakeLambdaContext:
    """The attributes Powertools reads from the context."""

    function_name: str = "sagechain-test"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:sagechain-test"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"
    log_group_name: str = "/aws/lambda/sagechain-test"
    log_stream_name: str = "2026/11/25/[$LATEST]0"
    # At the start of an invocation the function has its whole Timeout left.
    timeout_ms: int = 900_000

    def get_remaining_time_in_millis(self) -> int:
        return self.timeout_ms
