"""The daemon: config, systemd notify/watchdog, health."""
