"""Analysis: the run loop, recorders, metrics, tables and plots."""
