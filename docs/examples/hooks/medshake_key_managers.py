from medshake_bridge.api import KeyManagerSpec, hookimpl


class NoKeys:
    """A key manager with nothing in it."""

    def list_keys(self):
        return []

    def import_key(self, name, stream):
        raise NotImplementedError("this folder is read-only")

    def delete_key(self, name, *, confirm_current_year=False):
        raise NotImplementedError("this folder is read-only")

    def decrypt_aes(self, name, code):
        raise NotImplementedError("no .aes keys here")


@hookimpl
def medshake_key_managers():
    return [KeyManagerSpec(key="none", label="Aucune clef", factory=lambda settings, runner:
                           NoKeys())]
