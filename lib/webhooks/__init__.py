"""Webhooks: one road for every provider's deliveries.

verifiers.py   the Verifier port (Delivery -> Verified)
stripe.py, ghl.py, standard.py, pusher.py, form.py, shared_secret.py   the schemes
providers.py   the table: provider -> verifier built from the app's settings
endpoint.py    WebhookEndpoint, declared by core or a feature
ingest.py      size limit -> verify -> store + process in one SQL call -> publish -> answer
procedures.py  webhooks.events / webhooks.replay for operators
"""
