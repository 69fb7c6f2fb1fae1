"""Floodwall: stops what it can at the mail gateway, finds the rest in the logs."""

__version__ = "0.1.0"
