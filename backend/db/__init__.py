"""Tables (models.py) and the engine and session factory (engine.py)."""
