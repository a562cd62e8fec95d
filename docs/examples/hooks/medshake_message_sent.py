from medshake_bridge.api import hookimpl

LETTERS: list[tuple[str, str]] = []


@hookimpl
def medshake_message_sent(message, user):
    LETTERS.append((message.patient_id, message.message_id))
