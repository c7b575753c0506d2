"""The Fly.io voice bridge: SignalWire/Twilio media streams <-> OpenAI Realtime (GA).

Deployed on its own (worker/Dockerfile, worker/fly.toml), never to Vercel (.vercelignore).
"""
