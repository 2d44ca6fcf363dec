"""Stage 2, start_labeling: a run's input manifest becomes a Ground Truth labeling job."""
