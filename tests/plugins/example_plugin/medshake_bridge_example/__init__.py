"""Example third-party plugin: declares a setting and reacts to a stored message."""

from medshake_bridge import hookimpl
from medshake_bridge.interfaces import CheckResult
from medshake_bridge.settings import SettingSpec

RECEIVED: list[str] = []


@hookimpl
def medshake_settings():
    return [
        SettingSpec(
            name="exampleGreeting", type="text", default="Bonjour", category="Exemple",
            label_fr="Salutation", label_en="Greeting",
            help_fr="Un réglage déclaré par l'extension d'exemple.",
            help_en="A setting declared by the example plugin.",
        )
    ]


@hookimpl
def medshake_system_checks(app):
    return [CheckResult(name="example plugin", ok=True, detail="always fine")]


@hookimpl
def medshake_message_stored(message, documents):
    RECEIVED.append(str(message))
