"""Clients of the services the worker talks to over HTTP."""
