"""Fusion: joins weight events, camera lane interactions and presence into basket events (pure)."""
