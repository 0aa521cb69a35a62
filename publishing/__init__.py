"""Publishing the solution's components to the AWS Serverless Application Repository (SAR)."""
