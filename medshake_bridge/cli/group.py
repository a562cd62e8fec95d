"""The click group every bridge command is attached to (kept apart to avoid import cycles)."""

from flask.cli import AppGroup

bridge_group = AppGroup("bridge", help="medshake-bridge commands.")
