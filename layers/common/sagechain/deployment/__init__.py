"""Stage 4, deploy_model and configure_autoscaling: a trained model behind an autoscaled endpoint."""
