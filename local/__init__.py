"""The local runtime: the solution on one machine, with no AWS account and no Docker (docs/local.md)."""
