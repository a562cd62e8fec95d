"""The bridge's testing kit gives these tests a real bridge (docs/testing-plugins.md)."""

import pytest

pytest_plugins = ["medshake_bridge.testing"]


@pytest.fixture
def bridge_config():
    # Installed with pip the plugin is found through its entry point; from a source checkout
    # (PYTHONPATH) register it by name. Both give the same plugin once.
    from importlib.metadata import entry_points

    installed = any(ep.name == "example" for ep in entry_points(group="medshake_bridge"))
    return {} if installed else {"MEDSHAKE_BRIDGE_PLUGINS": ["medshake_bridge_example.plugin"]}
