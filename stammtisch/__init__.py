"""Stammtisch: a self-hostable social-media-marketing platform."""

__version__ = "0.1.0"
