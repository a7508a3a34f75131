"""Operations outside requests: backup and restore, the demo organisation (seed, its
history and its intake source)."""
