"""sagechain: the SageMaker lifecycle as small event-driven Lambda handlers."""
