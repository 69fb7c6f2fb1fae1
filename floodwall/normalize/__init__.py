"""Stage normalize: normalizers turn a raw record into an ``Event``."""
