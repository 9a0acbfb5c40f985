"""zdensity command-line interface (parsing and wiring only)."""

__version__ = "0.1.0"
