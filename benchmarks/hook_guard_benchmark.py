"""Hook guard benchmark: what calling each plugin on its own costs over pluggy's single call.

The host calls every hook through ``medshake_bridge.hook_guard`` (one implementation at a time,
failures recorded). This measures the time per call of ``medshake_menu_items`` (called on every
page) through pluggy directly and through the guard, with the built-in plugins plus N trivial
ones, and the cost of a failing implementation (recorded in the database each time).

Run: ``.venv/bin/python benchmarks/hook_guard_benchmark.py --plugins 20 --calls 5000``
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import types
from pathlib import Path

from cryptography.fernet import Fernet

from medshake_bridge import bridge_state, create_app, hookimpl, migrate
from medshake_bridge.api import MenuItem

RESULTS = Path(__file__).parent / "results" / "hook_guard.json"


def _plugin(index: int, *, fail: bool = False) -> types.ModuleType:
    @hookimpl
    def medshake_menu_items(user):
        if fail:
            raise RuntimeError("broken on purpose")
        return [MenuItem(f"P{index}", f"P{index}", "bridge_home.index")]

    module = types.ModuleType(f"bench_{index}{'_broken' if fail else ''}")
    module.medshake_menu_items = medshake_menu_items
    return module


def _per_call(function, calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        function()
    return (time.perf_counter() - started) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--plugins", type=int, default=20)
    parser.add_argument("--calls", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        plugins = [_plugin(i) for i in range(args.plugins)]
        app = create_app({"INSTANCE_PATH": folder, "MEDSHAKE_BRIDGE_SECRET_KEYS":
                          [Fernet.generate_key().decode()], "MEDSHAKE_BRIDGE_PLUGINS": plugins,
                          "MEDSHAKE_BRIDGE_PLUGIN_FAILURE_LIMIT": 0})
        migrate.upgrade(app)
        state = bridge_state(app)
        with app.app_context():
            pluggy_us = _per_call(lambda: state.pm.hook.medshake_menu_items(user=None),
                                  args.calls)
            guard_us = _per_call(lambda: state.hooks.call_list("medshake_menu_items",
                                                               user=None), args.calls)
            state.pm.register(_plugin(999, fail=True))
            failing_us = _per_call(lambda: state.hooks.call_list("medshake_menu_items",
                                                                 user=None), 200)
    result = {"plugins": args.plugins, "calls": args.calls,
              "pluggy_us_per_call": round(pluggy_us, 1),
              "guard_us_per_call": round(guard_us, 1),
              "guard_with_one_failing_plugin_us_per_call": round(failing_us, 1)}
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
