"""Golden (expected-output) tests for every shared sample and seed example."""
