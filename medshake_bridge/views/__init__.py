"""The bridge's own pages, one blueprint per module.

``auth`` (login, logout, language, static files) is registered by the web layer itself; the
others are offered through the ``medshake_blueprints`` hook by the built-in ``web_pages``
plugin, exactly as a third-party plugin adds its pages.
"""
