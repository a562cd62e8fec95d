from medshake_bridge.api import Advice, hookimpl, settings


@hookimpl
def medshake_config_advice(app, account):
    if not settings(app).get("apicryptCommandPrefix"):
        return []  # programs run directly: nothing to paste
    return [Advice("Sudoers line for my plugin", "apicryptCommandPrefix runs my program",
                   (f"{account} ALL=(root) NOPASSWD: /usr/local/bin/my-program",))]
