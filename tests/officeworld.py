"""A practice for the workflow tests: Dr Martin (alice, sends through the sandbox relay),
Dr Durand (bob, collected from a Maildir) and Sophie, secretary delegated by both."""

from __future__ import annotations

from medshake_bridge import bridge_state
from medshake_bridge.db import db
from medshake_bridge.models import User
from medshake_bridge.users import create_user

PASSWORD = "password for tests"


def add_jeanne(app) -> str:
    """Jeanne DUPONT, born 12/03/1961: the report's name, first name and birth date (but not
    its NIR), in the bridge's own patient store; returns her reference ``bridge:<id>``."""
    import datetime as dt

    from medshake_bridge.models.patients import Patient

    with app.app_context():
        jeanne = Patient(last_name="DUPONT", first_name="Jeanne", sex="F",
                         birth_date=dt.date(1961, 3, 12))
        db.session.add(jeanne)
        db.session.commit()
        return f"bridge:{jeanne.id}"


def make_office(sw):
    """Name the practitioners, add Sophie (delegated by both) and Paul (no delegation)."""
    with sw.app.app_context():
        for user_id, name in ((sw.alice, "Dr Martin"), (sw.world.bob, "Dr Durand")):
            db.session.get(User, user_id).display_name = name
        sophie = create_user("sophie", PASSWORD, role="secretary")
        sophie.display_name = "Sophie"
        create_user("paul", PASSWORD, role="secretary")
        db.session.commit()
        sw.sophie = sophie.id
        bridge_state().settings.set("apicryptInboxMailForUserID", f"{sw.alice},{sw.world.bob}",
                                    level="user", user_id=sophie.id)
    return sw
