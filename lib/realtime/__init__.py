"""Realtime: who may subscribe to which channel (channels.py), the Publisher port and its
adapters, the outbox relay. Each concept is its own module; nothing is imported here."""
