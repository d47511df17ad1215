"""Who is connected: the partner registry, the credentials handshake and their storage."""
