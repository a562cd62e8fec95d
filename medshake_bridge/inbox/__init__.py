"""The inbox: what a user sees of collected mail, and what they can do with it.

Every function takes the acting user and goes through :mod:`medshake_bridge.access`, so the
pages, the CLI and the JSON endpoints enforce the same rule for every action.
"""
