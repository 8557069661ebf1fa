"""Benchmarks: convcalc's planning speed against tools that run the model (see docs/benchmarks.md)."""
