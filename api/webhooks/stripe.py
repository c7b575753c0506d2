"""POST /api/webhooks/stripe: Stripe's events (Stripe-Signature, STRIPE_WEBHOOK_SECRET) ->
the billing processors. See lib.features.billing.webhook."""

from lib.features import BUNDLE, services
from lib.web import function
from lib.webhooks import ingest

app = function(POST=ingest.handler(BUNDLE.webhook("/api/webhooks/stripe")), services=services)
