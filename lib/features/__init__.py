"""Feature modules (poker, messaging, calls, ...): each declares its procedures, webhooks and
cron jobs as data for api/ to list; see docs/architecture.md."""
