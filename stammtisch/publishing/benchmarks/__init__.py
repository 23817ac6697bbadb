"""Benchmarks of the publishing domain (`stammtisch bench publish`); docs/benchmarks.md."""
