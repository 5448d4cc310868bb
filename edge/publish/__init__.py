"""Messages and where they go: payload schema, JSONL files, MQTT."""
