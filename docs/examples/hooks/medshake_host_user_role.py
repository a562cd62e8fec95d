from medshake_bridge.api import hookimpl


@hookimpl
def medshake_host_user_role(identity):
    return "secretary" if identity.login.startswith("sec-") else None
