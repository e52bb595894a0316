"""Command-line configuration: deployment options, environment defaults, sizes."""
