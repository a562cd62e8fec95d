"""Apicrypt v2 back-end: APICEM's companion service, reached through one client module."""
