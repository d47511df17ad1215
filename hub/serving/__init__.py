"""Serving the app: the listening socket, the HTTP/1.1 connection rules Hypercorn leaves to us, the
graceful shutdown of one process, and the supervisor of several.

Hypercorn parses HTTP and runs the ASGI app; this package decides when connections open and close.
"""
