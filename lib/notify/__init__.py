"""Notifications to people outside the app: one SMS or one email at a time.

    port.py       Notification, the Notifier protocol, NotifyError (retry or not)
    twilio.py     SMS through Twilio's Messages API           (NOTIFY_SMS_PROVIDER=twilio)
    sendgrid.py   email through SendGrid's v3 mail/send API   (NOTIFY_EMAIL_PROVIDER=sendgrid)
    log.py        writes what it would send to the log        (the default for both);
                  OffNotifier: notifications disabled          (=off)
    memory.py     keeps what it was given (unit tests)

`notifiers(settings, http=client)` maps each channel ("sms", "email") to the adapter the
settings name, every HTTP adapter on the one injected `httpx.AsyncClient` (tests pass a client
on an `httpx.MockTransport` speaking the provider's REST shape). Importing this package
imports no adapter.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lib.notify.port import Channel, Notification, Notifier, NotifyError, Receipt

if TYPE_CHECKING:
    import httpx

    from lib.config import Settings

__all__ = ["Channel", "Notification", "Notifier", "NotifyError", "Receipt", "notifiers"]


def notifiers(config: Settings, *, http: httpx.AsyncClient) -> dict[Channel, Notifier]:
    """The configured adapter per channel. A provider named without its credentials fails
    here (ServiceUnavailable), before anything is claimed or sent."""
    from lib.notify.log import LogNotifier, OffNotifier

    sms: Notifier = (
        OffNotifier("sms") if config.notify_sms_provider == "off" else LogNotifier("sms")
    )
    email: Notifier = (
        OffNotifier("email") if config.notify_email_provider == "off" else LogNotifier("email")
    )
    if config.notify_sms_provider == "twilio":
        from lib.notify.twilio import TwilioSms

        sms = TwilioSms.from_settings(config, http=http)
    if config.notify_email_provider == "sendgrid":
        from lib.notify.sendgrid import SendGridEmail

        email = SendGridEmail.from_settings(config, http=http)
    return {"sms": sms, "email": email}
