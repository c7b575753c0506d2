-- Local development data (make dev). Idempotent: re-applied whenever this file changes.
-- Tokens for these users: `python -m dev.token --sub alice` (or bob, carol).

insert into public.profiles (id, display_name) values
  ('alice', 'Alice (local)'),
  ('bob', 'Bob (local)'),
  ('carol', 'Carol (local)')
on conflict (id) do nothing;

-- Credits for the local users: poker.create costs one unless the user has an active
-- subscription. credit_grant is idempotent per (user, reason, ref), so re-applying this file
-- grants them once.
select public.credit_grant(u.id, 20, 'seed', 'local-seed')
from (values ('alice'), ('bob'), ('carol')) as u (id);
