"""Offline trainer: base encoder -> teacher -> distilled student -> INT8.

Imports the engine, never the GUI. Torch lives here and only here.
"""
