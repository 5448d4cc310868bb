"""The `edge-pose` subcommands, one module each. Each exposes `register(subparsers)`."""
