"""The training pipeline: the scripts its steps run, and its SageMaker definition."""
