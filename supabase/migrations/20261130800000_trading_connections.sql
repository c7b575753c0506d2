-- Trading: a user's broker connections.
--
--   trading_connections  one row per connected broker account. webhook_secret, access_token
--                        and refresh_token are CIPHERTEXT (Fernet, TRADING_TOKEN_KEY;
--                        lib/features/trading/secrets.py): the database never sees them in the
--                        clear, and `authenticated` may not even select those columns.
--                        status: active | needs_reauth (a token renewal failed);
--                        refreshing_until is the lease of a token renewal in flight.
--
-- Functions (service role only; p_user is the caller's id from the verified token):
--   trading_connect(user, broker, label, secret, access, refresh, expires_at, account)
--                                        a new connection (at most 20 per user)
--   trading_disconnect(user, connection) delete it with its positions, orders, balances;
--                                        P0002 (not found) for anyone else's
--   trading_connections(user)            the caller's connections (never a secret)
--   trading_webhook_secret(connection)   the encrypted secret of an active connection, else null

create table public.trading_connections (
  id uuid primary key default gen_random_uuid(),
  user_id text not null check (user_id ~ '^[A-Za-z0-9_=@,.;-]{1,128}$'),
  broker text not null check (broker in ('webhook', 'alpaca', 'tradovate')),
  label text not null default '' check (char_length(label) <= 100),
  status text not null default 'active' check (status in ('active', 'needs_reauth')),
  account_id text check (char_length(account_id) <= 128),
  webhook_secret text check (char_length(webhook_secret) <= 4096),
  access_token text check (char_length(access_token) <= 16384),
  refresh_token text check (char_length(refresh_token) <= 16384),
  token_expires_at timestamptz,
  refreshing_until timestamptz,
  last_sync_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create index trading_connections_user_id_idx on public.trading_connections (user_id);
create index trading_connections_token_expires_at_idx
  on public.trading_connections (token_expires_at) where token_expires_at is not null;

alter table public.trading_connections enable row level security;

create policy "trading_connections: users read their own"
  on public.trading_connections for select to authenticated
  using (user_id = (select auth.jwt() ->> 'sub'));

revoke all on public.trading_connections from anon, authenticated;
-- the ciphertext columns stay the server's
grant select (
  id, user_id, broker, label, status, account_id, token_expires_at, last_sync_at, created_at,
  updated_at
) on public.trading_connections to authenticated;
grant select, insert, update, delete on public.trading_connections to service_role;

create or replace function private.trading_connection_json(p_row public.trading_connections)
returns jsonb
language sql
immutable
set search_path = ''
as $$
  select jsonb_build_object(
    'id', p_row.id, 'broker', p_row.broker, 'label', p_row.label, 'status', p_row.status,
    'accountId', p_row.account_id, 'tokenExpiresAt', p_row.token_expires_at,
    'lastSyncAt', p_row.last_sync_at, 'createdAt', p_row.created_at
  )
$$;

create or replace function public.trading_connect(
  p_user text,
  p_broker text,
  p_label text,
  p_secret text default null,
  p_access text default null,
  p_refresh text default null,
  p_expires_at timestamptz default null,
  p_account text default null
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_row public.trading_connections;
begin
  perform pg_advisory_xact_lock(hashtextextended('trading-connect:' || p_user, 0));
  if (select count(*) from public.trading_connections where user_id = p_user) >= 20 then
    raise exception 'at most 20 broker connections per user' using errcode = '22023';
  end if;
  insert into public.trading_connections (
    user_id, broker, label, webhook_secret, access_token, refresh_token, token_expires_at,
    account_id
  ) values (
    p_user, p_broker, coalesce(p_label, ''), p_secret, p_access, p_refresh, p_expires_at,
    p_account
  )
  returning * into v_row;
  return private.trading_connection_json(v_row);
end
$$;

create or replace function public.trading_disconnect(p_user text, p_connection uuid)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
begin
  delete from public.trading_connections where id = p_connection and user_id = p_user;
  if not found then
    raise exception 'no such connection' using errcode = 'P0002';
  end if;
  return jsonb_build_object('id', p_connection, 'disconnected', true);
end
$$;

create or replace function public.trading_connections(p_user text)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(jsonb_agg(private.trading_connection_json(c) order by c.created_at, c.id),
    '[]'::jsonb)
  from public.trading_connections c
  where c.user_id = p_user
$$;

create or replace function public.trading_webhook_secret(p_connection uuid)
returns text
language sql
stable
security definer
set search_path = ''
as $$
  select webhook_secret from public.trading_connections
  where id = p_connection and status = 'active' and webhook_secret is not null
$$;

revoke execute on function private.trading_connection_json(public.trading_connections)
  from public, anon, authenticated;
revoke execute on function public.trading_connect(
  text, text, text, text, text, text, timestamptz, text
) from public, anon, authenticated;
revoke execute on function public.trading_disconnect(text, uuid) from public, anon, authenticated;
revoke execute on function public.trading_connections(text) from public, anon, authenticated;
revoke execute on function public.trading_webhook_secret(uuid) from public, anon, authenticated;
grant execute on function private.trading_connection_json(public.trading_connections)
  to service_role;
grant execute on function public.trading_connect(
  text, text, text, text, text, text, timestamptz, text
) to service_role;
grant execute on function public.trading_disconnect(text, uuid) to service_role;
grant execute on function public.trading_connections(text) to service_role;
grant execute on function public.trading_webhook_secret(uuid) to service_role;
