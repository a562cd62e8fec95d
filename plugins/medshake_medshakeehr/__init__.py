"""MedShakeEHR connector: its patients, filing, users, settings and logins for the bridge.

The bridge collects Apicrypt mail; this plugin makes an existing MedShakeEHR (PHP, MariaDB) the
place where patients live and documents are filed, exactly as MedShakeEHR's own screens expect.
It talks to MedShakeEHR's database with its own engine, never through the bridge's database,
and imports nothing of the host but :mod:`medshake_bridge.api`.
"""
