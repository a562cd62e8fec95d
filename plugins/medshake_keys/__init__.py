"""Apicrypt key management: the ``Clefs/`` folder, yearly renewal and ``.aes`` keys.

The plugin offers a :class:`~medshake_keys.manager.ClefsManager` through
``medshake_key_managers`` (the host's ``keys`` command uses it), the admin page *Clefs Apicrypt*,
the expiry watch (system checks and the ``keys-expiry-check`` scheduled job). Every path it
touches is derived on the server from a key folder setting and a validated file name.
"""
