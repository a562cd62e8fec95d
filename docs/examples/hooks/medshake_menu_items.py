from medshake_bridge.api import MenuItem, hookimpl


@hookimpl
def medshake_menu_items(user):
    if user is None:
        return []
    return [MenuItem("Mon extension", "My plugin", "my_plugin.index", admin_only=True)]
