"""The reference central backend (a real HTTP server with its own SQLite); see README.md."""
