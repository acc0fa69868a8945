"""Benchmarks. ``make bench`` runs every ``bench_*.py`` module here, each printing JSON lines."""
