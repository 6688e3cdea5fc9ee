"""Curriculum config modules: one per file, each exporting ``CURRICULUM``."""
