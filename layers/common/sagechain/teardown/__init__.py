"""Deleting the stack: the SageMaker endpoints, configurations and models it created go with it."""
