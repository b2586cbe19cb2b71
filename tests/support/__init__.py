"""Helpers shared by the tests and the benchmarks: speech clips and a live server."""
