"""Sockless core: everything the api/ functions are built from. No module does I/O at import."""

__version__ = "0.1.0"
