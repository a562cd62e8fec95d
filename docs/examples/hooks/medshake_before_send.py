from medshake_bridge.api import hookimpl


@hookimpl
def medshake_before_send(message, user):
    if not message.patient_id:
        return "Choisissez le patient concerné avant d'envoyer."
    return None
