"""Tables of the host. Importing this package registers every model on the shared metadata."""

from medshake_bridge.models.api import ApiToken, WebhookDelivery, WebhookSubscription
from medshake_bridge.models.audit import AuditEvent, AuditNoiseCounter
from medshake_bridge.models.mail import InboxDocument, Mailbox, ReceivedMessage
from medshake_bridge.models.patients import FiledDocument, Patient
from medshake_bridge.models.plugins import PluginFailure, PluginSuspension
from medshake_bridge.models.reads import DocumentRead
from medshake_bridge.models.scale import QueueJob, WorkerHeartbeat
from medshake_bridge.models.sending import Correspondent, SentMessage
from medshake_bridge.models.settings import SettingValue
from medshake_bridge.models.tasks import ScheduledTask, TaskRun
from medshake_bridge.models.users import User

__all__ = [
    "ApiToken",
    "AuditEvent",
    "AuditNoiseCounter",
    "Correspondent",
    "DocumentRead",
    "FiledDocument",
    "InboxDocument",
    "Mailbox",
    "Patient",
    "PluginFailure",
    "PluginSuspension",
    "QueueJob",
    "ReceivedMessage",
    "SentMessage",
    "ScheduledTask",
    "SettingValue",
    "TaskRun",
    "User",
    "WebhookDelivery",
    "WebhookSubscription",
    "WorkerHeartbeat",
]
