"""Stage detect: detectors turn events into ``Finding``s. They do no I/O and hold no scores."""
