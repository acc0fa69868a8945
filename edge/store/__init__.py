"""SQLite storage of the gateway (sqlite-utils, WAL, synchronous=FULL) with versioned migrations."""
