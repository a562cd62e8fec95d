"""Apicrypt v1 back-end: the four APICEM programs run through the host's program runner."""
