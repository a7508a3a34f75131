"""The database underneath: migrations, SQLite's writer queue."""
