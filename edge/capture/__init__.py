"""Frame sources: files and videos (and, in the daemon, cameras)."""
