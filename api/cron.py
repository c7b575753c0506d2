"""GET /api/cron/<job> (vercel.json rewrites /api/cron/:job here; the job comes from the
original path). Bearer $CRON_SECRET required; the jobs are the enabled features' (lib.features)."""

from lib import cron
from lib.features import BUNDLE, services
from lib.web import function

app = function(GET=cron.handler(BUNDLE.jobs), services=services)
