"""The operations outside requests: backup and restore, the command-line tasks."""
