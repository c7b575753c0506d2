-- Trading: on-demand sync of a REST broker connection (trading.sync,
-- lib/features/trading/sync.py).
--
--   trading_connections.syncing_until   the lease of the one broker fetch in flight for a
--                                       connection: across instances, concurrent syncs of one
--                                       connection make one broker call; the others wait for
--                                       the cache it fills
--   trading_sync_source(user, connection)  the broker, status and encrypted access token of
--                                       the caller's connection; P0002 for anyone else's
--   trading_sync_claim(connection, lease_s)  take the lease: true, or false when it is held
--   trading_sync_release(connection)    give it back

alter table public.trading_connections add column syncing_until timestamptz;

create or replace function public.trading_sync_source(p_user text, p_connection uuid)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_row public.trading_connections;
begin
  select * into v_row from public.trading_connections
  where id = p_connection and user_id = p_user;
  if not found then
    raise exception 'no such connection' using errcode = 'P0002';
  end if;
  return jsonb_build_object(
    'id', v_row.id, 'broker', v_row.broker, 'status', v_row.status,
    'accessToken', v_row.access_token, 'tokenExpiresAt', v_row.token_expires_at
  );
end
$$;

create or replace function public.trading_sync_claim(p_connection uuid, p_lease_s integer)
returns boolean
language sql
volatile
security definer
set search_path = ''
as $$
  with claimed as (
    update public.trading_connections
      set syncing_until = now() + make_interval(secs => p_lease_s)
    where id = p_connection and (syncing_until is null or syncing_until <= now())
    returning 1
  )
  select exists (select 1 from claimed)
$$;

create or replace function public.trading_sync_release(p_connection uuid)
returns void
language sql
volatile
security definer
set search_path = ''
as $$
  update public.trading_connections set syncing_until = null where id = p_connection
$$;

revoke execute on function public.trading_sync_source(text, uuid) from public, anon, authenticated;
revoke execute on function public.trading_sync_claim(uuid, integer)
  from public, anon, authenticated;
revoke execute on function public.trading_sync_release(uuid) from public, anon, authenticated;
grant execute on function public.trading_sync_source(text, uuid) to service_role;
grant execute on function public.trading_sync_claim(uuid, integer) to service_role;
grant execute on function public.trading_sync_release(uuid) to service_role;
