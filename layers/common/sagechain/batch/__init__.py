"""Batch predictions: batches/<model>/<name>/batch.json -> a SageMaker transform job -> predictions.jsonl."""
