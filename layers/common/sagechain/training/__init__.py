"""Stage 3, start_training: labeled data becomes a training job, sibling jobs or a tuning job."""
