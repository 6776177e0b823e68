"""Reports: one model of a stored scan, rendered to every format."""
