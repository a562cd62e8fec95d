"""The bridge's hook specifications: the whole plugin API.

Every hook is prefixed ``medshake_``; pluggy calls implementations with keyword arguments only and
an implementation may accept any subset of the arguments named here. Hooks marked
``firstresult`` stop at the first implementation that returns something other than ``None``.
The host calls each implementation on its own (:mod:`medshake_bridge.hook_guard`): one that
raises is logged and recorded, and the others still run. ``docs/plugins.md`` is generated from
this module (``scripts/generate-plugin-docs``; a test fails when it is out of date). The types
named in the annotations are those of :mod:`medshake_bridge.api`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:  # the annotations are documentation; plugins import these from the api
    from flask import Blueprint, Flask, Request

    from medshake_bridge.api import (
        Advice,
        BackendSpec,
        BridgeUser,
        CheckResult,
        CollectorSpec,
        HostIdentity,
        JobSpec,
        KeyManagerSpec,
        MenuItem,
        OutgoingMessage,
        Renewal,
        SentRecord,
        SettingSpec,
        StoredDocument,
        StoredMessage,
    )

PROJECT_NAME = "medshake_bridge"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def medshake_settings() -> list[SettingSpec]:
    """Declare settings.

    Called once when the app is created, to build the settings registry. Return a list of
    :class:`medshake_bridge.settings.SettingSpec`. A name declared twice is a load error of the
    second plugin.
    """


@hookspec
def medshake_crypto_backends() -> list[BackendSpec]:
    """Offer crypto back-ends (Apicrypt v1, v2, a pass-through for tests...).

    Called whenever a user's back-end is built (collection, sending, checks) and when the
    choices of ``apicryptVersion`` are listed or validated. Return a list of
    :class:`BackendSpec` whose ``key`` is a value of the ``apicryptVersion`` setting; the host
    builds one back-end per user from that user's effective settings.
    """


@hookspec
def medshake_mail_collectors() -> list[CollectorSpec]:
    """Offer ways to reach a mailbox (POP3, IMAP, Maildir, a third party's...).

    Called at every collection (``fetch``, the scheduled job, the inbox's button), when the
    configuration pages list the choices of ``apicryptCollector`` and when ``config set``
    validates one. Return a list of
    :class:`medshake_bridge.interfaces.CollectorSpec` whose ``key`` matches a value of the
    ``apicryptCollector`` setting.
    """


@hookspec
def medshake_key_managers() -> list[KeyManagerSpec]:
    """Offer key managers (the ``Clefs/`` folder of Apicrypt v1, ``.aes`` keys of v2).

    Called whenever ``medshake-bridge keys`` opens a key folder. Return a list of
    :class:`medshake_bridge.interfaces.KeyManagerSpec`.
    """


@hookspec
def medshake_scheduled_jobs() -> list[JobSpec]:
    """Declare scheduled jobs.

    Called whenever the scheduler, the *Tâches planifiées* page or ``medshake-bridge tasks``
    needs the job list. Return a list of :class:`JobSpec` (id, function, labels, default
    ``cron`` and ``enabled``). Cron fields are named (``minute``, ``hour``, ``day``, ``month``,
    ``day_of_week``) in crontab syntax (``*/5``, ``8-20``, ``1,15``) with crontab's day-of-week
    numbering (0 or 7 = Sunday, ``1-6`` Monday-Saturday). ``cron`` and ``enabled`` are
    defaults: once a job is seen, the admin's choices on the tasks page win.

    The job function ``func(app)`` is called with the Flask ``app`` inside an app context (the
    API's accessors work), in a worker thread of the one process that leads the scheduling
    (or of the web process for "run now", or of ``medshake-bridge tasks run``). It returns a
    mapping of counts (shown and stored) or ``None``. Raising records the run as failed with
    the error; raise :class:`JobFailed` ``(message, counts=..., fix=...)`` to keep counts with
    the failure. Make a job idempotent: a run interrupted by a crash runs again.
    """


@hookspec
def medshake_blueprints(app: Flask) -> list[Blueprint]:
    """Add pages.

    Called once when the app is created, with the Flask ``app``. Return a list of Flask
    blueprints; the host registers them under its URL prefix and guards every route: a
    logged-in bridge user is needed (``protect(blueprint, ADMIN)`` reserves the pages to
    admins, who else gets an audited 404), every POST needs the CSRF token (a hidden
    ``csrf_token`` field with ``{{ csrf_token() }}``), and the pages get the bridge's security
    headers and translations. Templates extend ``bridge/base.html`` and fill the blocks
    ``bridge_title`` and ``bridge_main`` (no inline script or style: the Content-Security-Policy
    forbids them). A view touching a user's mail calls ``require_mail_access(current_user(),
    owner_id)``; security-relevant actions call ``audit(...)``.
    """


@hookspec
def medshake_menu_items(user: BridgeUser | None) -> list[MenuItem]:
    """Add entries to the navigation menu.

    Called while rendering a page, with the current bridge ``user`` (or ``None`` when nobody is
    logged in). Return a list of :class:`medshake_bridge.interfaces.MenuItem`; items whose
    ``admin_only`` is true are shown to admins only.
    """


@hookspec
def medshake_system_checks(app: Flask) -> list[CheckResult]:
    """Report on what this plugin needs (folders, programs, services).

    Called by the system information page and ``medshake-bridge doctor``, with the Flask ``app``
    inside an app context, each plugin in its own thread with a deadline (keep network calls
    short, with timeouts). Return a list of :class:`CheckResult`; ``ok=None`` is a warning,
    ``ok=False`` makes ``doctor`` exit non-zero.
    """


@hookspec
def medshake_renewals(app: Flask) -> list[Renewal]:
    """Declare what your plugin's users must renew before a date (a certificate, a credential).

    Called inside an app context by the *Apicrypt keys* page and the daily
    ``keys-expiry-check`` job, so each deadline appears beside the yearly keys and is recorded
    in the audit log before it passes. Return a list of :class:`medshake_bridge.api.Renewal`
    (one per thing and per set of users; keep network calls short, with timeouts); the host
    uses its own clock (``medshake_bridge.api.today``) to judge them, so compute ``ok`` with
    it too.
    """


@hookspec
def medshake_config_advice(app: Flask, account: str) -> list[Advice]:
    """Offer configuration snippets an admin must paste elsewhere (sudoers lines, systemd).

    Called by the system information page and ``doctor`` inside an app context, with the Flask
    ``app`` and the system ``account`` the sudoers lines must name. Return a list of
    :class:`medshake_bridge.api.Advice` (only those that apply to this site now).
    """


@hookspec
def medshake_message_stored(message: StoredMessage, documents: list[StoredDocument]) -> None:
    """React to a received message once it is safely committed.

    Called after the pipeline committed the ``message`` and its inbox ``documents`` and before
    the message is deleted from the server, once per message (whatever the number of its
    owners: ``message.owners``, each document's ``owner``). Both are public copies: the
    documents carry their parsed HPRIM ``header`` and lab ``results``. The return value is
    ignored; an exception is recorded and does not undo the storage.
    """


@hookspec
def medshake_patient_providers(app: Any) -> list[Any]:
    """Offer patient sources (the bridge's own store, an EHR, a portal).

    Called once when the app is created, with the Flask ``app``. Return a list of objects
    following :class:`medshake_bridge.api.PatientProvider`, each owning one ``source`` name
    (two providers may not claim the same source). Patients are then referenced everywhere as
    :class:`medshake_bridge.api.PatientRef` (``source:id``) and the host asks only the provider
    of that source to fetch, create or file. Providers read their settings when they are used,
    not when they are offered. Two providers claiming one source, or an object missing part
    of the contract, stop the app at start with an error naming the plugins. The host scores
    candidates itself and files a document only through the provider of the chosen patient's
    source (see ``docs/patients.md``).
    """


@hookspec
def medshake_before_send(message: OutgoingMessage, user: BridgeUser) -> str | None:
    """Veto an outgoing message.

    Called before a message is encrypted and sent, with the checked ``OutgoingMessage``
    (``sender``, ``recipients``, ``subject``, ``text``, ``patient_id``, ``attachment_names``).
    Return a reason (text shown to the user) to refuse it, or ``None`` to let it go. A veto
    that raises refuses the message (it fails closed).
    """


@hookspec
def medshake_message_sent(message: SentRecord, user: BridgeUser) -> None:
    """React to a message accepted by the SMTP server.

    Called after the sent record is committed, with a :class:`SentRecord` copy of it. The
    return value is ignored; an exception is recorded and never hides the sending.
    """


@hookspec(firstresult=True)
def medshake_current_user(app: Flask, request: Request) -> HostIdentity | Any:
    """Map the host's identity to a bridge user when the bridge is embedded.

    Called on each request to a bridge page when no bridge user is logged in. Return a bridge
    ``User``, its id, a :class:`medshake_bridge.api.HostIdentity` (the bridge user linked to it,
    provisioned on first visit when ``MEDSHAKE_BRIDGE_AUTO_PROVISION`` is on), or ``None``. The
    first non-``None`` answer wins.
    """


@hookspec(firstresult=True)
def medshake_host_user_role(identity: HostIdentity) -> str | None:
    """Choose the role of a bridge user provisioned from the host's identity.

    Called once, when ``MEDSHAKE_BRIDGE_AUTO_PROVISION`` creates a bridge user for a
    :class:`medshake_bridge.api.HostIdentity` seen for the first time. Return ``"admin"``,
    ``"practitioner"``, ``"secretary"``, or ``None`` to let the next implementation (then the
    identity's own ``role``, then ``practitioner``) decide. Any other answer refuses the
    provisioning (logged).
    """


@hookspec
def medshake_cli_commands(cli: Any) -> None:
    """Add command-line commands.

    Called once when the app is created, with the app's click group ``cli`` (``app.cli``): add
    commands or groups to it with ``cli.add_command(...)``. They run inside an app context, as
    ``medshake-bridge NAME`` standalone and ``flask NAME`` in a host app. The return value is
    ignored; a command whose name is already taken is a load error of the second plugin.
    """
