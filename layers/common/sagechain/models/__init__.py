"""pydantic models: the dataset spec, events, manifest lines."""
