"""Labelled evaluation set for name matching (see README.md)."""
