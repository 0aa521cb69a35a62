"""Code shared by every function of the Streaming Data Solution for Amazon MSK (the shared Lambda layer)."""
