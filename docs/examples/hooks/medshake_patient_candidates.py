from medshake_bridge.api import PatientCandidate, hookimpl


@hookimpl
def medshake_patient_candidates(identity, limit):
    if identity.last_name.upper() != "DUPONT":
        return []
    return [PatientCandidate("17", "DUPONT Jeanne", 80, ("last_name",), source="mine")][:limit]
