"""The words every package shares, defined once: events and the contract, records, topic names,
settings and secrets, severities and incident types. It imports nothing of ours."""
