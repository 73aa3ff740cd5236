"""`voxmcp web`: a browser page to talk to the agent through LiveKit, with server-side tokens."""
