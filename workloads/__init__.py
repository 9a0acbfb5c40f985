"""Workloads: dumps and generators -> pages -> compressed sizes -> traces of events."""
