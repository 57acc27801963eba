"""Deployment units of the reference architecture, one module per stack."""
