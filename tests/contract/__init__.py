"""Contract suites every Source and Sink adapter must pass (subclassed once per adapter)."""
