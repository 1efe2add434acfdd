"""Honest results (issue 14): calibration, significance tests, baselines, diagnosis and near-duplicates.

Pure functions on NumPy arrays, lists and plain dicts; every result is JSON-ready, so the tasks
write it into eval.json and the report reads it back. No module here reads a run folder.
"""
