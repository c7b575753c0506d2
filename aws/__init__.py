"""The AWS Lambda target: every api/ function in one Lambda, behind API Gateway (HTTP API v2
or REST API v1) or a function URL, through Mangum.

    app.py       one ASGI app mounting every api/ function at its Vercel path (vercel.json
                 rewrites and headers applied by lib.vercel_project, as dev/vercel.py does)
    handler.py   the Lambda entry point (`aws.handler.handler`): HTTP events through Mangum;
                 EventBridge schedule events become the cron request Vercel would send
    schedule.py  vercel.json "crons" -> EventBridge cron expressions and schedule events
    template.py  writes / checks template.yaml (AWS SAM) from api/ and vercel.json:
                 `python -m aws.template` (write) or `--check`
"""
