"""GET /api/cron/<job> (vercel.json rewrites /api/cron/:job here; the job comes from the
original path). Bearer $CRON_SECRET required; jobs are listed in lib.cron.JOBS."""

from lib.cron import run
from lib.web import function

app = function(GET=run)
