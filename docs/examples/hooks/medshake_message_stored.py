import logging

from medshake_bridge.api import hookimpl

log = logging.getLogger("my_plugin")


@hookimpl
def medshake_message_stored(message, documents):
    for document in documents:
        low = [result.label for result in document.results if result.abnormal]
        if low:
            log.info("message %s for %s: abnormal %s", message.id, document.owner.login,
                     ", ".join(low))
