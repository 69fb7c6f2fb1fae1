"""Sigma detection: rules compiled once, matched against events, and correlated."""
