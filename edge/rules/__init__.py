"""Safety rules: per-track state machines that turn poses into events."""
