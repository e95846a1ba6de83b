"""CronWorkflows: scheduled retraining and scheduled drift checks."""
