"""The events the CRM processors publish (docs/crm.md, "Events"), as models of their
envelope `data` for `make types`. The SQL processors build them; `type` fields name what
happened. Location channels carry no message body beyond a 50-character preview.

    private-location-{locationId}  location-message, project-won, revenue-update, lead-alert,
                                   contact-activity, email-stats, payment-failed,
                                   appointment-reminder
    private-user-{userId}          new-message, unread-update, project-update,
                                   payment-received, payment-failed, lead-alert,
                                   appointment-update, task-update, appointment-reminder,
                                   message-failed, quote-viewed
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from lib.events import EventFamily, absent


class ContactName(BaseModel):
    name: str | None


class Contact(BaseModel):
    id: str
    name: str | None


class LeadContact(Contact):
    email: str | None
    phone: str | None


class MessageContact(Contact):
    phone: str | None


class ConversationMessage(BaseModel):
    id: int
    ghlMessageId: str | None
    clientId: str | None
    conversationId: str
    direction: str
    type: str | None
    body: str | None
    status: str | None
    at: str


class ConversationUnread(BaseModel):
    id: str
    unreadCount: int


class NewMessage(BaseModel):
    message: ConversationMessage
    contact: MessageContact
    conversation: ConversationUnread


class LocationMessage(BaseModel):
    type: str | None
    contactName: str | None
    preview: str
    """The first 50 characters of the message."""


class UnreadUpdate(BaseModel):
    conversationId: str
    locationId: str
    unreadCount: int
    totalUnread: int


class Project(BaseModel):
    id: str
    name: str | None
    status: str | None
    value: float | None
    stageId: str | None


class ProjectUpdate(BaseModel):
    type: Literal[
        "created", "status_changed", "stage_changed", "value_changed", "assigned", "deleted"
    ]
    previous: str | float | None = absent()
    """The value before the change (absent on `created`)."""
    project: Project
    contact: ContactName


class ProjectWon(BaseModel):
    projectName: str | None
    value: float | None
    salesRep: str | None


class PaymentReceived(BaseModel):
    amount: float
    currency: str
    customerName: str | None
    invoiceNumber: str | None
    paymentMethod: str | None


class RevenueUpdate(BaseModel):
    type: Literal["payment"]
    amount: float
    total: float
    """Today's revenue, in the location's time zone."""
    currency: str
    day: str


class PaymentFailed(BaseModel):
    amount: float | None
    currency: str | None
    customerName: str | None
    invoiceNumber: str | None
    reason: str | None = absent()
    """Only on the assignee's channel."""


class LeadAlert(BaseModel):
    type: Literal["new_lead", "form_submission"]
    formName: str | None = absent()
    source: str | None
    hot: bool
    contact: LeadContact


class ContactActivity(BaseModel):
    type: Literal["contact_updated", "tags_updated", "dnd_updated", "contact_deleted", "note_added"]
    contact: Contact


class AppointmentHeader(BaseModel):
    id: str
    title: str | None
    status: str | None
    startTime: str | None
    endTime: str | None


class AppointmentUpdate(BaseModel):
    type: Literal["created", "updated", "cancelled"]
    appointment: AppointmentHeader
    contact: ContactName


class TaskHeader(BaseModel):
    id: str
    title: str | None
    dueDate: str | None
    completed: bool


class TaskUpdate(BaseModel):
    type: Literal["created", "completed", "deleted"]
    task: TaskHeader
    contact: ContactName


class EmailStats(BaseModel):
    event: str
    day: str
    delivered: int
    opened: int
    clicked: int


class ReminderLocation(BaseModel):
    id: str
    name: str | None


class AppointmentReminder(BaseModel):
    appointmentId: str
    title: str | None
    contactName: str | None
    startsIn: int
    """Minutes until the appointment (15)."""
    startTime: str
    location: ReminderLocation


class MessageFailed(BaseModel):
    id: str
    clientId: str | None
    conversationId: str
    reason: str


class QuoteViewed(BaseModel):
    quoteId: str
    quoteName: str | None
    contactName: str | None
    viewedAt: str
    timeOnPage: int | None
    viewId: str


FAMILIES = (
    EventFamily(
        "private-location-{locationId}",
        {
            "location-message": LocationMessage,
            "project-won": ProjectWon,
            "revenue-update": RevenueUpdate,
            "lead-alert": LeadAlert,
            "contact-activity": ContactActivity,
            "email-stats": EmailStats,
            "payment-failed": PaymentFailed,
            "appointment-reminder": AppointmentReminder,
        },
    ),
    EventFamily(
        "private-user-{userId}",
        {
            "new-message": NewMessage,
            "unread-update": UnreadUpdate,
            "project-update": ProjectUpdate,
            "payment-received": PaymentReceived,
            "payment-failed": PaymentFailed,
            "lead-alert": LeadAlert,
            "appointment-update": AppointmentUpdate,
            "task-update": TaskUpdate,
            "appointment-reminder": AppointmentReminder,
            "message-failed": MessageFailed,
            "quote-viewed": QuoteViewed,
        },
    ),
)
