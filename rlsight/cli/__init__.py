"""Command-line entry points (argument parsing only)."""
