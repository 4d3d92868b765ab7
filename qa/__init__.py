"""qa: ask questions of a local news archive, with exact cited answers, offline."""

__version__ = "0.1.0"
