"""The GitHub Actions runtime: the only code that reads inputs or writes outputs."""
