"""HighLevel's webhook envelope, made uniform (pure: no I/O).

HighLevel's payloads are flat and not alike: most carry `type` and `locationId`; Invoice*
carry neither (the location is `altId` when `altType` is "location", the kind is the invoice's
`status`); AppInstall/AppUninstall say `INSTALL`/`UNINSTALL`; LocationCreate names the location
`id`; appointments nest everything under `appointment`. `normalise` turns any of them into

    {"type": "InvoicePaid", "locationId": "loc_1", "assignee": "usr_9" | None, "data": {...}}

which is what every CRM processor (a SQL function, PROCESSORS) receives. `assignee` is the
HighLevel user the record names (assignedTo, an appointment's assignedUserId, else userId);
the processor falls back to the assigned user of the record's contact.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

PROCESSORS: Mapping[str, str] = {
    # identity
    "AppInstall": "crm_on_location",
    "AppUninstall": "crm_on_location",
    "LocationCreate": "crm_on_location",
    "LocationUpdate": "crm_on_location",
    "UserCreate": "crm_on_user",
    "UserUpdate": "crm_on_user",
    "UserDelete": "crm_on_user",
    # conversations
    "InboundMessage": "crm_on_message",
    "OutboundMessage": "crm_on_message",
    "ConversationUnreadUpdate": "crm_on_unread_update",
    # opportunities
    "OpportunityCreate": "crm_on_opportunity",
    "OpportunityStatusUpdate": "crm_on_opportunity",
    "OpportunityStageUpdate": "crm_on_opportunity",
    "OpportunityMonetaryValueUpdate": "crm_on_opportunity",
    "OpportunityAssignedToUpdate": "crm_on_opportunity",
    "OpportunityUpdate": "crm_on_opportunity",
    "OpportunityDelete": "crm_on_opportunity",
    # invoices, orders, payments
    "InvoiceCreate": "crm_on_payment",
    "InvoiceUpdate": "crm_on_payment",
    "InvoicePaid": "crm_on_payment",
    "InvoicePartiallyPaid": "crm_on_payment",
    "InvoiceSent": "crm_on_payment",
    "InvoiceVoid": "crm_on_payment",
    "InvoicePaymentFailed": "crm_on_payment",
    "PaymentFailed": "crm_on_payment",
    "OrderCreate": "crm_on_payment",
    "OrderStatusUpdate": "crm_on_payment",
    # contacts and notes
    "ContactCreate": "crm_on_contact_create",
    "ContactUpdate": "crm_on_contact_activity",
    "ContactTagUpdate": "crm_on_contact_activity",
    "ContactDndUpdate": "crm_on_contact_activity",
    "ContactDelete": "crm_on_contact_activity",
    "NoteCreate": "crm_on_contact_activity",
    # calendar and tasks
    "AppointmentCreate": "crm_on_appointment",
    "AppointmentUpdate": "crm_on_appointment",
    "AppointmentDelete": "crm_on_appointment",
    "TaskCreate": "crm_on_task",
    "TaskComplete": "crm_on_task",
    "TaskDelete": "crm_on_task",
    # email
    "LCEmailStats": "crm_on_email_stats",
}
"""Every HighLevel event type the CRM applies -> its processor. Anything else is stored as
`ignored` (lib.webhooks.ingest)."""

RENAMED = {"INSTALL": "AppInstall", "UNINSTALL": "AppUninstall"}
INVOICE_STATUS = {
    "paid": "InvoicePaid",
    "partially_paid": "InvoicePartiallyPaid",
    "sent": "InvoiceSent",
    "void": "InvoiceVoid",
}
IDENTITY = {
    "AppInstall",
    "AppUninstall",
    "LocationCreate",
    "LocationUpdate",
    "UserCreate",
    "UserUpdate",
    "UserDelete",
}
"""Types whose userId is the installer or the user itself, never an assignee."""
MAX_ID = 128


@dataclass(frozen=True, slots=True)
class Envelope:
    type: str
    location_id: str | None
    assignee: str | None
    data: Mapping[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "locationId": self.location_id,
            "assignee": self.assignee,
            "data": dict(self.data),
        }


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= MAX_ID else None


def event_type(payload: Mapping[str, Any]) -> str:
    """The event type: `type` (INSTALL/UNINSTALL renamed), else an invoice's from its status."""
    declared = payload.get("type")
    if isinstance(declared, str) and declared:
        return RENAMED.get(declared, declared)
    if "invoiceNumber" in payload or payload.get("altType") == "location":
        status = payload.get("status")
        if isinstance(status, str):
            return INVOICE_STATUS.get(status.lower(), "InvoiceUpdate")
        return "InvoiceUpdate"
    return ""


def location_id(kind: str, payload: Mapping[str, Any]) -> str | None:
    found = _text(payload.get("locationId"))
    if found:
        return found
    if payload.get("altType") == "location":
        return _text(payload.get("altId"))
    if kind in ("LocationCreate", "LocationUpdate"):
        return _text(payload.get("id"))
    appointment = payload.get("appointment")
    if isinstance(appointment, Mapping):
        return _text(appointment.get("locationId"))
    return None


def assignee(kind: str, payload: Mapping[str, Any]) -> str | None:
    if kind in IDENTITY:
        return None
    appointment = payload.get("appointment")
    if isinstance(appointment, Mapping):
        return _text(appointment.get("assignedUserId")) or _text(appointment.get("userId"))
    return _text(payload.get("assignedTo")) or _text(payload.get("userId"))


def normalise(payload: Mapping[str, Any]) -> Envelope:
    kind = event_type(payload)
    return Envelope(
        type=kind,
        location_id=location_id(kind, payload),
        assignee=assignee(kind, payload),
        data=payload,
    )
