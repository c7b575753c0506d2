-- Local development data (make dev). Idempotent: re-applied whenever this file changes.
-- Tokens for these users: `python -m dev.token --sub alice` (or bob, carol).

insert into public.profiles (id, display_name) values
  ('alice', 'Alice (local)'),
  ('bob', 'Bob (local)'),
  ('carol', 'Carol (local)')
on conflict (id) do nothing;
