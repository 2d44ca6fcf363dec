"""Offline emulation of the deployed stack (never deployed): `make demo` and the e2e tests."""
