"""stsd's benchmarks: every figure beside a baseline measured in the same run.

Run from the repository root: `.venv/bin/python -m bench` (see bench/README.md).
"""

__all__: list[str] = []
