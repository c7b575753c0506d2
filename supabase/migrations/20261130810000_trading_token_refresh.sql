-- Trading: the `refresh-expiring-tokens` cron (lib/features/trading/tokens.py) renews broker
-- access tokens before they expire, one renewal in flight per connection.
--
--   trading_connections.refreshing_until  the lease of the renewal in flight (its column came
--                                         with the table)
--   trading_connections.status_reason     why a connection needs_reauth (shown to its owner)
--   trading_tokens_due(within_s, limit, lease_s)  lease up to `limit` active connections whose
--                                         token expires within `within_s` (for update skip
--                                         locked: concurrent cron runs never lease one row
--                                         twice): [{id, broker, accessToken}]
--   trading_token_store(connection, access, expires_at)  the renewed (encrypted) token; frees
--                                         the lease
--   trading_token_release(connection)     free the lease after a transient failure (the next
--                                         run retries)
--   trading_token_failed(connection, reason)  the broker refused the renewal: status
--                                         needs_reauth and `connection-status` {connectionId,
--                                         status, reason} on private-user-{owner}, once

alter table public.trading_connections
  add column status_reason text check (char_length(status_reason) <= 500);

create index trading_connections_refresh_due_idx
  on public.trading_connections (token_expires_at)
  where status = 'active' and access_token is not null and token_expires_at is not null;

create or replace function public.trading_tokens_due(
  p_within_s integer, p_limit integer, p_lease_s integer
)
returns jsonb
language sql
volatile
security definer
set search_path = ''
as $$
  with due as (
    select id from public.trading_connections
    where status = 'active'
      and access_token is not null
      and token_expires_at is not null
      and token_expires_at <= now() + make_interval(secs => p_within_s)
      and (refreshing_until is null or refreshing_until <= now())
    order by token_expires_at
    limit p_limit
    for update skip locked
  ), leased as (
    update public.trading_connections c
      set refreshing_until = now() + make_interval(secs => p_lease_s)
      from due where c.id = due.id
    returning c.id, c.broker, c.access_token
  )
  select coalesce(jsonb_agg(jsonb_build_object(
    'id', id, 'broker', broker, 'accessToken', access_token)), '[]'::jsonb)
  from leased
$$;

create or replace function public.trading_token_store(
  p_connection uuid, p_access text, p_expires_at timestamptz
)
returns boolean
language sql
volatile
security definer
set search_path = ''
as $$
  with stored as (
    update public.trading_connections
      set access_token = p_access, token_expires_at = p_expires_at, refreshing_until = null,
        updated_at = now()
    where id = p_connection and status = 'active'
    returning 1
  )
  select exists (select 1 from stored)
$$;

create or replace function public.trading_token_release(p_connection uuid)
returns void
language sql
volatile
security definer
set search_path = ''
as $$
  update public.trading_connections set refreshing_until = null where id = p_connection
$$;

create or replace function public.trading_token_failed(p_connection uuid, p_reason text)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_row public.trading_connections;
  v_reason text := left(coalesce(p_reason, 'the broker refused the token renewal'), 500);
  v_event bigint;
begin
  update public.trading_connections
    set status = 'needs_reauth', status_reason = v_reason, refreshing_until = null,
      updated_at = now()
  where id = p_connection and status = 'active'
  returning * into v_row;
  if not found then
    return jsonb_build_object('connectionId', p_connection, 'changed', false);
  end if;
  -- its own statement: outbox_rows (stable) reads a snapshot taken before the statement
  -- that would insert the row in the same expression
  v_event := public.outbox_enqueue(
    'private-user-' || v_row.user_id, 'connection-status',
    jsonb_build_object('connectionId', v_row.id, 'status', v_row.status, 'reason', v_reason));
  return jsonb_build_object(
    'connectionId', p_connection,
    'changed', true,
    'events', public.outbox_rows(array[v_event])
  );
end
$$;

revoke execute on function public.trading_tokens_due(integer, integer, integer)
  from public, anon, authenticated;
revoke execute on function public.trading_token_store(uuid, text, timestamptz)
  from public, anon, authenticated;
revoke execute on function public.trading_token_release(uuid) from public, anon, authenticated;
revoke execute on function public.trading_token_failed(uuid, text)
  from public, anon, authenticated;
grant execute on function public.trading_tokens_due(integer, integer, integer) to service_role;
grant execute on function public.trading_token_store(uuid, text, timestamptz) to service_role;
grant execute on function public.trading_token_release(uuid) to service_role;
grant execute on function public.trading_token_failed(uuid, text) to service_role;
