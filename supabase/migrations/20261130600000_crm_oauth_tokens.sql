-- CRM: HighLevel OAuth tokens per location (what crm.sendMessage calls the conversations API
-- with).
--
--   crm_oauth_tokens  one row per connected location. access_token and refresh_token are
--                     CIPHERTEXT (Fernet, CRM_TOKEN_KEY; lib/features/crm/tokens.py): the
--                     database never sees a token in the clear. expires_at is when the access
--                     token dies; refreshing_until is the lease of a refresh in flight
--                     (HighLevel rotates the refresh token on every refresh, so two concurrent
--                     refreshes would lose one: only the lease holder refreshes).
--
-- Functions (service role only):
--   crm_token_store(location, access, refresh, expires_at, scope, company, user)  connect or
--                     refresh: upsert, clear the lease and any error
--   crm_token_get(location)              the row (ciphertext) or null
--   crm_token_claim(location, lease_s)   take the refresh lease of one location: its
--                                        encrypted refresh token, or null if another caller
--                                        holds the lease (or the location is not connected)
--   crm_tokens_due(within_s, limit, lease_s)  the cron: lease up to `limit` rows whose access
--                                        token expires within `within_s` (skip locked)
--   crm_token_release(location, error)   give a lease back after a failed refresh

create table public.crm_oauth_tokens (
  location_id text primary key references public.locations (id) on delete cascade,
  access_token text not null check (char_length(access_token) between 1 and 16384),
  refresh_token text not null check (char_length(refresh_token) between 1 and 16384),
  expires_at timestamptz not null,
  scope text check (char_length(scope) <= 4096),
  company_id text check (char_length(company_id) <= 128),
  ghl_user_id text check (char_length(ghl_user_id) <= 128),
  refreshing_until timestamptz,
  refreshed_at timestamptz,
  refresh_error text check (char_length(refresh_error) <= 500),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create index crm_oauth_tokens_expires_at_idx on public.crm_oauth_tokens (expires_at);

-- No client policy: tokens are for the server alone, even encrypted.
alter table public.crm_oauth_tokens enable row level security;
revoke all on public.crm_oauth_tokens from anon, authenticated;
grant select, insert, update, delete on public.crm_oauth_tokens to service_role;

create or replace function public.crm_token_store(
  p_location text,
  p_access text,
  p_refresh text,
  p_expires_at timestamptz,
  p_scope text default null,
  p_company text default null,
  p_user text default null
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_location text := private.crm_location(p_location);
  v_new boolean;
begin
  insert into public.crm_oauth_tokens (
    location_id, access_token, refresh_token, expires_at, scope, company_id, ghl_user_id
  ) values (
    v_location, p_access, p_refresh, p_expires_at, left(p_scope, 4096), left(p_company, 128),
    left(p_user, 128)
  )
  on conflict (location_id) do update set
    access_token = excluded.access_token,
    refresh_token = excluded.refresh_token,
    expires_at = excluded.expires_at,
    scope = coalesce(excluded.scope, public.crm_oauth_tokens.scope),
    company_id = coalesce(excluded.company_id, public.crm_oauth_tokens.company_id),
    ghl_user_id = coalesce(excluded.ghl_user_id, public.crm_oauth_tokens.ghl_user_id),
    refreshing_until = null,
    refreshed_at = now(),
    refresh_error = null,
    updated_at = now()
  returning (xmax = 0) into v_new;
  return jsonb_build_object('locationId', v_location, 'connected', v_new,
    'expiresAt', p_expires_at);
end
$$;

create or replace function public.crm_token_get(p_location text)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select jsonb_build_object(
    'locationId', t.location_id,
    'accessToken', t.access_token,
    'expiresAt', t.expires_at,
    'refreshing', coalesce(t.refreshing_until > now(), false),
    'refreshError', t.refresh_error
  )
  from public.crm_oauth_tokens t
  where t.location_id = p_location
$$;

create or replace function public.crm_token_claim(p_location text, p_lease_s integer)
returns text
language sql
volatile
security definer
set search_path = ''
as $$
  update public.crm_oauth_tokens set refreshing_until = now() + make_interval(secs => p_lease_s)
  where location_id = p_location and (refreshing_until is null or refreshing_until <= now())
  returning refresh_token
$$;

create or replace function public.crm_tokens_due(
  p_within_s integer, p_limit integer, p_lease_s integer
)
returns jsonb
language sql
volatile
security definer
set search_path = ''
as $$
  with due as (
    select location_id from public.crm_oauth_tokens
    where expires_at <= now() + make_interval(secs => p_within_s)
      and (refreshing_until is null or refreshing_until <= now())
    order by expires_at
    limit p_limit
    for update skip locked
  ), leased as (
    update public.crm_oauth_tokens t
      set refreshing_until = now() + make_interval(secs => p_lease_s)
      from due where t.location_id = due.location_id
    returning t.location_id, t.refresh_token
  )
  select coalesce(jsonb_agg(jsonb_build_object(
    'locationId', location_id, 'refreshToken', refresh_token)), '[]'::jsonb)
  from leased
$$;

create or replace function public.crm_token_release(p_location text, p_error text)
returns void
language sql
volatile
security definer
set search_path = ''
as $$
  update public.crm_oauth_tokens
    set refreshing_until = null, refresh_error = left(p_error, 500), updated_at = now()
  where location_id = p_location
$$;

revoke execute on function public.crm_token_store(text, text, text, timestamptz, text, text, text)
  from public, anon, authenticated;
revoke execute on function public.crm_token_get(text) from public, anon, authenticated;
revoke execute on function public.crm_token_claim(text, integer) from public, anon, authenticated;
revoke execute on function public.crm_tokens_due(integer, integer, integer)
  from public, anon, authenticated;
revoke execute on function public.crm_token_release(text, text) from public, anon, authenticated;
grant execute on function public.crm_token_store(text, text, text, timestamptz, text, text, text)
  to service_role;
grant execute on function public.crm_token_get(text) to service_role;
grant execute on function public.crm_token_claim(text, integer) to service_role;
grant execute on function public.crm_tokens_due(integer, integer, integer) to service_role;
grant execute on function public.crm_token_release(text, text) to service_role;
