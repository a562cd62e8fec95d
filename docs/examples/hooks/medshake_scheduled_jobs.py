from medshake_bridge.api import JobFailed, JobSpec, hookimpl, users


def count_users(app):
    """The job: called with the app, inside an app context; returns counts to record."""
    found = len(users())
    if not found:
        raise JobFailed("nobody can receive mail yet", counts={"users": 0},
                        fix="create the users (medshake-bridge create-user)")
    return {"users": found}


@hookimpl
def medshake_scheduled_jobs():
    return [JobSpec(id="my-plugin-count-users", func=count_users,
                    label_fr="Compter les utilisateurs", label_en="Count users",
                    cron={"minute": "0", "hour": "7", "day": "*", "month": "*",
                          "day_of_week": "1-5"})]
