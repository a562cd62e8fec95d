from pathlib import Path

from medshake_bridge.api import CheckResult, hookimpl, plugin_folder


@hookimpl
def medshake_system_checks(app):
    with app.app_context():
        folder = plugin_folder("my-plugin", app)
    writable = folder.is_dir() and Path(folder).stat().st_mode & 0o200
    return [CheckResult("my plugin folder", bool(writable), str(folder),
                        fix="give the folder to the bridge's account", category="my plugin")]
