from datetime import date

from medshake_bridge.api import Renewal, hookimpl, today


@hookimpl
def medshake_renewals(app):
    ends = date(today().year, 12, 31)  # say, a reader licence that ends with each year
    soon = (ends - today()).days <= 30
    return [Renewal("Licence du lecteur de cartes", ("alice",), ends, None if soon else True,
                    "Prend fin bientôt." if soon else "Valide.",
                    "Renouvelez la licence auprès de l'éditeur." if soon else "")]
