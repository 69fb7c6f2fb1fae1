"""``floodwall mail scan``: parse messages, run the mail detectors, let the policy decide."""
