"""The PySide6 GUI: thin widgets over the engine (storage, tagger, formats)."""
