"""Emulators: real HTTP servers on 127.0.0.1 that speak the wire protocols commit-train uses.

The real clients (PyGithub, the kubernetes client, kubectl, slack_sdk and slack-bolt) talk to
them unchanged, so tests exercise the same requests, headers, status codes and error bodies as
production does.
"""
