"""The local backend: a SQLite journal inside the repository's .git folder."""
