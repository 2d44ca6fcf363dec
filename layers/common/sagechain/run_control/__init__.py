"""Run control: the API routes that stop runs (and, later, delete and roll back models)."""
