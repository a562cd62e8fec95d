from medshake_bridge.api import FiledRecord, PatientRef, PatientSummary, hookimpl

PATIENTS = {"17": ("DUPONT", "Jeanne")}  # your EHR's database in real life
FILED: dict[str, FiledRecord] = {}


class MyPatients:
    source, label, can_create, can_file = "mine", "Mon logiciel", False, True

    def search(self, query, *, limit):
        return [self._summary(pid) for pid, (last, _first) in PATIENTS.items()
                if query.upper() in last][:limit]

    def get(self, patient_id):
        return self._summary(patient_id) if patient_id in PATIENTS else None

    def candidates(self, identity, *, limit):
        return self.search(identity.last_name, limit=limit)

    def create(self, patient, *, user):
        raise NotImplementedError

    def file_document(self, document, patient_id, *, user):
        return FILED.setdefault(document.key, FiledRecord(
            patient=PatientRef("mine", patient_id), record_id=f"doc-{len(FILED) + 1}"))

    def _summary(self, patient_id):
        last, first = PATIENTS[patient_id]
        return PatientSummary(ref=PatientRef("mine", patient_id), last_name=last,
                              first_name=first)


@hookimpl
def medshake_patient_providers(app):
    return [MyPatients()]
