-- Trading: trading.sync renews a token that is about to expire itself (the cron's lease, taken
-- for one connection), so a dashboard in use never lapses between cron runs
-- (lib/features/trading/tokens.py, renew_for_sync).
--
--   trading_token_claim(connection, lease_s)  take the renewal lease of one active connection
--                                             with a token: its encrypted access token, or
--                                             null when a renewal is already in flight (the
--                                             cron's or another sync's)

create or replace function public.trading_token_claim(p_connection uuid, p_lease_s integer)
returns text
language sql
volatile
security definer
set search_path = ''
as $$
  update public.trading_connections
    set refreshing_until = now() + make_interval(secs => p_lease_s)
  where id = p_connection and status = 'active' and access_token is not null
    and (refreshing_until is null or refreshing_until <= now())
  returning access_token
$$;

revoke execute on function public.trading_token_claim(uuid, integer)
  from public, anon, authenticated;
grant execute on function public.trading_token_claim(uuid, integer) to service_role;
