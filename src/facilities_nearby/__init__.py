"""Facilities within an N-minute walk along the street network (issue 6)."""
