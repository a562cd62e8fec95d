from medshake_bridge.api import BackendSpec, CheckResult, hookimpl


class ClearTextBackend:
    """A back-end that does not encrypt (for a test bench only)."""

    def __init__(self, settings, runner):
        self.user = settings.get("apicryptUtilisateur") or "?"

    def encrypt_body(self, text, recipients):
        return text.encode("utf-8")

    def encrypt_attachment(self, path, recipients, dest_dir):
        return path

    def decrypt_body(self, armour):
        return armour.decode("utf-8")

    def decrypt_attachment(self, path, dest_dir):
        return [path]

    def checks(self):
        return [CheckResult("clear text back-end", None, f"user {self.user}",
                            fix="never use it with real patients")]


@hookimpl
def medshake_crypto_backends():
    return [BackendSpec(key="clear", label="Sans chiffrement (banc d'essai)",
                        factory=ClearTextBackend)]
