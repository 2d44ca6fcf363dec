"""One module per AWS event source: how S3, SageMaker, API Gateway and the bus shape what they send."""
