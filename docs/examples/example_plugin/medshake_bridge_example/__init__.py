"""The example plugin of ``docs/plugins.md`` (hooks in :mod:`medshake_bridge_example.plugin`)."""
