"""The Braze canary: a marked test write to each environment on a schedule, judged for status,
answer shape and key permission, and recorded as ``CanaryRun`` rows (docs/deploy.md)."""
