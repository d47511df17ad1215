"""How a request travels: authenticate, check the sender, resolve the receiver, rewrite, forward."""
