"""The demo service the end-to-end tests deploy: ``acme/shop``, one ``web`` Deployment and
the Secret it reads, as its repository holds them (``.commit-train.yml`` and
``deploy/templates/web.yaml``). Test modules import the names; each adds what only it needs.
"""

from __future__ import annotations

CONFIG = """\
image: ghcr.io/acme/shop
secrets: [API_KEY]
environments:
  staging:
    url: https://staging.shop.example.com
  production:
    production: true
"""

WEB_DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: {{ image }}
"""
"""Ends with the container's last line, so a test may append more of its fields."""

WEB_SECRET = """\
apiVersion: v1
kind: Secret
metadata:
  name: web
stringData:
  API_KEY: {{ secrets.API_KEY | quote }}
"""

TEMPLATE = WEB_DEPLOYMENT + "---\n" + WEB_SECRET
"""``deploy/templates/web.yaml``."""
