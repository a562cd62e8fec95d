"""Maildir collector plugin: for sites that already run fetchmail/getmail, and for the demo."""

from __future__ import annotations

from medshake_bridge.api import CollectorSpec, SettingSpec, hookimpl
from medshake_maildir.collector import maildir_collector, maildir_identity


@hookimpl
def medshake_mail_collectors() -> list[CollectorSpec]:
    return [CollectorSpec(key="maildir", label="Maildir", factory=maildir_collector,
                          identity=maildir_identity,
                          required=("apicryptMaildir",))]


@hookimpl
def medshake_settings() -> list[SettingSpec]:
    return [
        SettingSpec(
            name="apicryptMaildir", type="folder", default="", category="Apicrypt",
            label_fr="Maildir local", label_en="Local Maildir",
            help_fr="Dossier Maildir (avec cur/, new/, tmp/) à relever.",
            help_en="Maildir folder (with cur/, new/, tmp/) to collect from.",
            per_person=True,  # one person's mail: set on the practitioner's page
        ),
    ]
