"""HighLevel's envelope made uniform (lib.features.crm.envelope, pure) and GHL_APP_ID."""

from __future__ import annotations

from typing import Any

import pytest

from lib.features.crm.envelope import PROCESSORS, normalise
from lib.features.crm.settings import CrmSettings


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"type": "INSTALL", "locationId": "L1", "userId": "U1"}, ("AppInstall", "L1", None)),
        ({"type": "UNINSTALL", "locationId": "L1"}, ("AppUninstall", "L1", None)),
        ({"type": "LocationCreate", "id": "L2", "name": "x"}, ("LocationCreate", "L2", None)),
        ({"type": "UserCreate", "id": "U1", "locationId": "L1"}, ("UserCreate", "L1", None)),
        (
            {
                "_id": "i",
                "status": "paid",
                "altId": "L3",
                "altType": "location",
                "invoiceNumber": "7",
            },
            ("InvoicePaid", "L3", None),
        ),
        (
            {"_id": "i", "status": "partially_paid", "altId": "L3", "altType": "location"},
            ("InvoicePartiallyPaid", "L3", None),
        ),
        ({"_id": "i", "status": "draft", "invoiceNumber": "7"}, ("InvoiceUpdate", None, None)),
        (
            {
                "type": "AppointmentDelete",
                "locationId": "L4",
                "appointment": {"id": "a", "assignedUserId": "U2"},
            },
            ("AppointmentDelete", "L4", "U2"),
        ),
        (
            {"type": "OpportunityStatusUpdate", "locationId": "L5", "assignedTo": "U3"},
            ("OpportunityStatusUpdate", "L5", "U3"),
        ),
        (
            {"type": "OutboundMessage", "locationId": "L6", "userId": "U4"},
            ("OutboundMessage", "L6", "U4"),
        ),
        ({"type": "InboundMessage", "locationId": "L6"}, ("InboundMessage", "L6", None)),
        ({"locationId": "L7"}, ("", "L7", None)),
    ],
)
def test_normalise(payload: dict[str, Any], expected: tuple[str, str | None, str | None]):
    envelope = normalise(payload)
    assert (envelope.type, envelope.location_id, envelope.assignee) == expected
    assert envelope.as_json()["data"] == payload


def test_every_family_of_the_issue_has_its_processor():
    families = {
        "crm_on_message": ["InboundMessage", "OutboundMessage"],
        "crm_on_unread_update": ["ConversationUnreadUpdate"],
        "crm_on_opportunity": [
            "OpportunityCreate",
            "OpportunityStatusUpdate",
            "OpportunityStageUpdate",
            "OpportunityMonetaryValueUpdate",
            "OpportunityAssignedToUpdate",
            "OpportunityDelete",
        ],
        "crm_on_payment": [
            "InvoicePaid",
            "InvoicePartiallyPaid",
            "InvoiceSent",
            "InvoiceVoid",
            "OrderCreate",
        ],
        "crm_on_contact_create": ["ContactCreate"],
        "crm_on_contact_activity": [
            "ContactUpdate",
            "ContactTagUpdate",
            "ContactDndUpdate",
            "ContactDelete",
            "NoteCreate",
        ],
        "crm_on_appointment": ["AppointmentCreate", "AppointmentUpdate", "AppointmentDelete"],
        "crm_on_task": ["TaskCreate", "TaskComplete", "TaskDelete"],
        "crm_on_location": ["AppInstall", "AppUninstall", "LocationCreate"],
        "crm_on_user": ["UserCreate"],
        "crm_on_email_stats": ["LCEmailStats"],
    }
    for processor, types in families.items():
        for kind in types:
            assert PROCESSORS[kind] == processor, kind


@pytest.mark.parametrize(
    ("setting", "app_id", "accepted"),
    [
        ("", "anything", True),
        ("abc123", None, True),
        ("abc123", "abc123", True),
        ("abc123-xyz", "abc123", True),
        ("abc123", "abc123-v2", True),
        ("abc123", "other", False),
        ("abc123", 42, False),
    ],
)
def test_ghl_app_id(setting: str, app_id: object, accepted: bool):
    assert CrmSettings.from_env({"GHL_APP_ID": setting}).accepts(app_id) is accepted


def test_a_bad_ghl_app_id_fails_by_name():
    with pytest.raises(ValueError, match="GHL_APP_ID"):
        CrmSettings.from_env({"GHL_APP_ID": "not an id!"})
