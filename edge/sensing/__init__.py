"""sensing."""
