output "id" {
  description = "Azure ML workspace ID."
  value       = azurerm_machine_learning_workspace.this.id
}

output "name" {
  description = "Azure ML workspace name."
  value       = azurerm_machine_learning_workspace.this.name
}

output "mlflow_tracking_uri" {
  description = "MLflow tracking URI of the workspace (azureml-mlflow resolves it with the caller's Entra token)."
  value       = "azureml://${var.location}.api.azureml.ms/mlflow/v1.0${azurerm_machine_learning_workspace.this.id}"
}
