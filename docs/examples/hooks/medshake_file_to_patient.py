from medshake_bridge.api import hookimpl

FILED = {}


@hookimpl
def medshake_file_to_patient(document, patient_id, user):
    if not patient_id.startswith("mine:"):
        return None  # not one of ours: the next implementation files it
    FILED[document.id] = patient_id
    return {"id": f"mine-{document.id}"}
