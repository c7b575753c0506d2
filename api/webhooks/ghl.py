"""POST /api/webhooks/ghl: HighLevel's webhooks (Ed25519 X-GHL-Signature, legacy RSA
X-WH-Signature) -> the CRM processors. See lib.features.crm.webhook."""

from lib.features import BUNDLE, services
from lib.web import function
from lib.webhooks import ingest

app = function(POST=ingest.handler(BUNDLE.webhook("/api/webhooks/ghl")), services=services)
