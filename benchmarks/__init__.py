"""Benchmarks of the framework: ``python -m benchmarks`` (full) or ``python -m benchmarks --quick``.

See ``docs/benchmarks.md`` for what each comparison measures and how to read the figures.
"""
