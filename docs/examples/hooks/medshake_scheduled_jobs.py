from medshake_bridge.api import JobSpec, hookimpl, users


def count_users(app):
    """The job: called with the app, inside an app context; returns counts to record."""
    return {"users": len(users())}


@hookimpl
def medshake_scheduled_jobs():
    return [JobSpec(id="my-plugin-count-users", func=count_users,
                    label_fr="Compter les utilisateurs", label_en="Count users",
                    cron={"minute": "0", "hour": "7", "day": "*", "month": "*",
                          "day_of_week": "1-5"})]
