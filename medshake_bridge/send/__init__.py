"""Sending Apicrypt mail: recipients, the HPRIM clear text, encryption, SMTP, the sent record.

:func:`medshake_bridge.send.service.send_message` is the one path used by the compose page and
``medshake-bridge send``.
"""
