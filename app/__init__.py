"""Bangla MedER desktop app and extraction command line."""

__version__ = "0.1.0"
