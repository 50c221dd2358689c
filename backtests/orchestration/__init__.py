"""Orchestration: the command line, the runner that orders the stages, and what only they need
(progress, install-time warm-up). Nothing below this package imports it."""
