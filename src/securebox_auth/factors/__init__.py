"""Authenticators, one module each: pure verifiers that return a verdict and the new state."""
