"""Where a received message comes from: inside the configured Apicrypt domains or not.

An Apicrypt message comes from an Apicrypt address; a clear HPRIM body from any other address
is how a forged lab result would look. The pipeline stores the answer on the message
(``external_sender``), the inbox shows it, and ``apicryptRefuseUnprotectedMail`` can refuse it.
"""

from __future__ import annotations

from collections.abc import Mapping
from email.utils import parseaddr
from functools import lru_cache
from typing import Any

DEFAULT_DOMAINS = ("apicrypt.org",)


@lru_cache(maxsize=1024)
def sender_domain(from_header: str) -> str:
    """The domain of the address in a From header, lower case ("" when there is none).

    Remembered: a collection sees the same few senders again and again (a lab sends all its
    results from one address), and the stdlib's address parser, in Python, cost about a
    tenth of a millisecond per message (issue 18, seventh pass)."""
    _name, address = parseaddr(from_header or "")
    if "@" not in address:
        return ""
    return address.rpartition("@")[2].strip().strip(".").lower()


def in_domains(domain: str, domains: list[str] | tuple[str, ...]) -> bool:
    """``domain`` is one of ``domains`` or a subdomain of one."""
    for allowed in domains:
        allowed = str(allowed).strip().strip(".").lower()
        if allowed and (domain == allowed or domain.endswith("." + allowed)):
            return True
    return False


def is_external_sender(from_header: str, settings: Mapping[str, Any]) -> bool:
    domains = settings.get("apicryptSenderDomains") or list(DEFAULT_DOMAINS)
    domain = sender_domain(from_header)
    return not domain or not in_domains(domain, list(domains))
