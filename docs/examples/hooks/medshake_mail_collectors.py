from pathlib import Path

from medshake_bridge.api import CollectorSpec, MailboxIdentity, ServerMessage, hookimpl


class EmptyCollector:
    """A mailbox that never has mail: the smallest complete MailCollector."""

    def __init__(self, settings):
        self.folder = Path(str(settings.get("apicryptMaildir") or "."))

    def open(self):
        pass

    def list_messages(self) -> list[ServerMessage]:
        return []

    def fetch_to(self, server_id, dest):
        raise KeyError(server_id)

    def delete(self, server_ids):
        pass

    def close(self):
        pass

    def abort(self):
        pass


def identity(settings):
    login = str(settings.get("apicryptPopUser") or "")
    return MailboxIdentity("empty", "", 0, login) if login else None


@hookimpl
def medshake_mail_collectors():
    return [CollectorSpec(key="empty", label="Boîte vide", factory=EmptyCollector,
                          identity=identity, required=("apicryptPopUser",))]
