"""The GitHub backend: PyGithub behind one adapter, every request counted."""
