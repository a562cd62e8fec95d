from medshake_bridge.api import SettingSpec, hookimpl


@hookimpl
def medshake_settings():
    return [
        SettingSpec(name="myPluginGreeting", type="text", default="Bonjour",
                    category="Mon extension", label_fr="Salutation", label_en="Greeting"),
        SettingSpec(name="myPluginToken", type="text", default="", category="Mon extension",
                    label_fr="Jeton", label_en="Token", secret=True, levels=("default",)),
    ]
