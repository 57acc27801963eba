"""Serving-side code that runs at build time: the bootstrap model, the example client."""
