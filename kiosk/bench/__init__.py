"""Benchmarks: each reports median and p95 beside a baseline measured in the same run."""
