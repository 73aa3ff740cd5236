"""`voxmcp bench`: voice-to-voice latency of voxmcp against the plain recipe on the same local models."""
