"""The command line: parse, call the service, show the result."""
