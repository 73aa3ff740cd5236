"""Harnesses that test voxmcp from outside; nothing in the product imports this package (import-linter says so).

`conformance_client`: the client the official MCP conformance suite drives (`scripts/conformance.sh`).
"""
