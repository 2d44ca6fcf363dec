"""The run observers: notify (an email per fact), track_run (the run history), status_api (GET routes)."""
