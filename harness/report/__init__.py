"""Turning results into things people read: console text, HTML, JSON exports."""
