"""Lead scoring and churn models: features -> time split -> LightGBM -> evaluate -> MLflow registry."""
