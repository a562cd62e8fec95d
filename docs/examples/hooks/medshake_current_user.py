from medshake_bridge.api import HostIdentity, hookimpl


@hookimpl
def medshake_current_user(app, request):
    # the portal's own, verified login session (never a header the browser can set)
    portal_user = request.environ.get("portal.user")
    if portal_user is None:
        return None
    return HostIdentity(key=f"portal:{portal_user['id']}", login=portal_user["login"],
                        display_name=portal_user["name"])
