"""Apicrypt recipient addresses: parsed and checked before anything is encrypted or sent.

An address goes into the ``-d`` list of the sender's program (its local part) and into the SMTP
envelope, so it is held to a strict shape: a local part like ``prenom.NOM`` (letters, digits,
``.``, ``-``, ``_``, never starting with ``-``) and a domain under one of the allowed domains
(``apicryptSendAllowedDomains``, by default ``apicrypt.org``, which also allows
``medical69.apicrypt.org``). Anything else is refused with the reason, never "fixed".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from medshake_bridge.errors import BridgeError

LOCAL_PART = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,62}[A-Za-z0-9])?\Z")
_DOMAIN_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)\Z")
_SEPARATORS = re.compile(r"[\s,;]+")
MAX_RECIPIENTS = 20


class RecipientError(BridgeError):
    """A recipient address is not an Apicrypt address this site may send to."""


@dataclass(frozen=True)
class ApicryptAddress:
    """A checked address; ``local`` keeps its case (it is the recipient's key name)."""

    local: str
    domain: str

    def __str__(self) -> str:
        return f"{self.local}@{self.domain}"


def split_addresses(text: str | Sequence[str]) -> list[str]:
    """Addresses typed in one field (comma, semicolon, space or line separated) or a list."""
    items = [text] if isinstance(text, str) else list(text)
    found: list[str] = []
    for item in items:
        found.extend(part for part in _SEPARATORS.split(item.strip()) if part)
    return found


def _domain_allowed(domain: str, allowed: Iterable[str]) -> bool:
    for entry in allowed:
        base = entry.strip().lower().lstrip(".")
        if base and (domain == base or domain.endswith("." + base)):
            return True
    return False


def parse_address(text: str, allowed_domains: Sequence[str]) -> ApicryptAddress:
    """Check one address; raises :class:`RecipientError` naming what is wrong."""
    from medshake_bridge.i18n import _

    value = text.strip().strip("<>")
    local, at, domain = value.rpartition("@")
    if not at or not local or not domain:
        raise RecipientError(
            _("%(address)s is not an e-mail address.", address=value),
            fix=_("Write the full Apicrypt address, e.g. prenom.NOM@medical69.apicrypt.org."))
    domain = domain.lower().rstrip(".")
    if not LOCAL_PART.match(local):
        raise RecipientError(
            _("The part before @ in %(address)s is not an Apicrypt user name.", address=value),
            fix=_("Use letters, digits, '.', '-' and '_' only, e.g. prenom.NOM."))
    if not all(_DOMAIN_LABEL.match(label) for label in domain.split(".")):
        raise RecipientError(
            _("The domain of %(address)s is not a valid domain name.", address=value),
            fix=_("Check the address for a typing error."))
    if not _domain_allowed(domain, allowed_domains):
        raise RecipientError(
            _("%(address)s is not an Apicrypt address (allowed domains: %(domains)s).",
              address=value, domains=", ".join(allowed_domains) or "-"),
            fix=_("Apicrypt only delivers to Apicrypt addresses: use the correspondent's "
                  "address ending in apicrypt.org."))
    return ApicryptAddress(local, domain)


def parse_recipients(text: str | Sequence[str],
                     allowed_domains: Sequence[str]) -> list[ApicryptAddress]:
    """Every address of ``text``, checked, without duplicates (case-insensitive)."""
    from medshake_bridge.i18n import _

    checked: list[ApicryptAddress] = []
    seen: set[str] = set()
    for item in split_addresses(text):
        address = parse_address(item, allowed_domains)
        if str(address).lower() not in seen:
            seen.add(str(address).lower())
            checked.append(address)
    if not checked:
        raise RecipientError(_("No recipient given."),
                             fix=_("Pick a correspondent or type an Apicrypt address."))
    if len(checked) > MAX_RECIPIENTS:
        raise RecipientError(_("Too many recipients (%(count)s).", count=len(checked)),
                             fix=_("Send to at most %(max)s recipients at once.",
                                   max=MAX_RECIPIENTS))
    return checked
