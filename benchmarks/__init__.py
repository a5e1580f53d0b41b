"""Benchmarks of the course's claims. Run from the repository root as modules:
``python -m benchmarks.bench_ch1`` (``python tasks.py bench`` runs every ``bench_*``).
"""
