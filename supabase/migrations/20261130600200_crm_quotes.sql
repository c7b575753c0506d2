-- CRM quote views (HighLevel has no quote-viewed event: the quote page tells us itself).
--
--   crm_quotes       a quote a sales rep sent a link to (crm.quoteLink): its location, contact,
--                    name and the rep (an app user) who hears of its views
--   crm_quote_views  one row per page view (quote + the page's own view id): first seen,
--                    latest beacon, time on page (seconds, only grows), beacons counted, and
--                    when the last `quote-viewed` event went out
--
-- Functions (service role only; the link's signed token was checked before, in
-- lib/features/crm/quotes.py):
--   crm_quote_upsert(user, quote, location, contact, name)  members of the location only
--                    (PT403); a quote id of another location is PT409. The caller is the rep.
--   crm_quote_view(quote, location, contact, view, time_on_page, now, throttle_s)
--                    records a beacon and decides, under the view row's lock (the upsert
--                    takes it), whether it publishes: the first beacon of a view always does,
--                    a later one only when the last event is `throttle_s` or more before
--                    `now`. So a beacon storm yields one event per window, however many
--                    instances handle it at once. `quote-viewed` {quoteId, quoteName,
--                    contactName, viewedAt, timeOnPage, viewId} goes to private-user-{rep}.
--                    `now` is the caller's clock (tests move it instead of sleeping).

create table public.crm_quotes (
  id text primary key check (id ~ '^[A-Za-z0-9_=@,.;-]{1,128}$'),
  location_id text not null references public.locations (id) on delete cascade,
  contact_id text check (char_length(contact_id) <= 128),
  name text not null check (char_length(name) between 1 and 200),
  rep_user_id text not null check (rep_user_id ~ '^[-a-zA-Z0-9_=@,.;]{1,128}$'),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create index crm_quotes_location_id_idx on public.crm_quotes (location_id);

create table public.crm_quote_views (
  id bigint generated always as identity primary key,
  quote_id text not null references public.crm_quotes (id) on delete cascade,
  location_id text not null references public.locations (id) on delete cascade,
  view_id text not null check (view_id ~ '^[A-Za-z0-9_-]{8,64}$'),
  viewed_at timestamptz not null,
  last_beacon_at timestamptz not null,
  time_on_page integer not null default 0 check (time_on_page between 0 and 86400),
  beacons integer not null default 1,
  published_at timestamptz,
  events integer not null default 0,
  unique (quote_id, view_id)
);

create index crm_quote_views_location_id_idx on public.crm_quote_views (location_id);

alter table public.crm_quotes enable row level security;
alter table public.crm_quote_views enable row level security;

create policy "crm_quotes: members read their locations' quotes"
  on public.crm_quotes for select to authenticated
  using (private.is_location_member(location_id, (select auth.jwt() ->> 'sub')));

create policy "crm_quote_views: members read their locations' quote views"
  on public.crm_quote_views for select to authenticated
  using (private.is_location_member(location_id, (select auth.jwt() ->> 'sub')));

revoke all on public.crm_quotes, public.crm_quote_views from anon, authenticated;
grant select on public.crm_quotes, public.crm_quote_views to authenticated;
grant select, insert, update, delete on public.crm_quotes, public.crm_quote_views
  to service_role;

create or replace function public.crm_quote_upsert(
  p_user text, p_quote text, p_location text, p_contact text, p_name text
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_quote public.crm_quotes;
begin
  perform private.crm_require_member(p_location, p_user);
  insert into public.crm_quotes (id, location_id, contact_id, name, rep_user_id)
    values (p_quote, p_location, p_contact, p_name, p_user)
  on conflict (id) do update set
    contact_id = excluded.contact_id,
    name = excluded.name,
    rep_user_id = excluded.rep_user_id,
    updated_at = now()
  where public.crm_quotes.location_id = excluded.location_id
  returning * into v_quote;
  if v_quote.id is null then
    raise exception 'quote % belongs to another location', left(p_quote, 128)
      using errcode = 'PT409';
  end if;
  return jsonb_build_object(
    'quoteId', v_quote.id, 'locationId', v_quote.location_id, 'contactId', v_quote.contact_id,
    'name', v_quote.name, 'repUserId', v_quote.rep_user_id
  );
end
$$;

create or replace function public.crm_quote_view(
  p_quote text,
  p_location text,
  p_contact text,
  p_view text,
  p_time_on_page integer,
  p_now timestamptz,
  p_throttle_s integer default 15
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_quote public.crm_quotes;
  v_view public.crm_quote_views;
  v_published boolean := false;
  v_contact public.crm_contacts;
  v_items jsonb := '[]'::jsonb;
begin
  select * into v_quote from public.crm_quotes
    where id = p_quote and location_id = p_location
      and contact_id is not distinct from nullif(p_contact, '');
  if v_quote.id is null then
    raise exception 'no such quote' using errcode = 'PT404';
  end if;
  insert into public.crm_quote_views (
    quote_id, location_id, view_id, viewed_at, last_beacon_at, time_on_page
  ) values (
    v_quote.id, v_quote.location_id, p_view, p_now, p_now, least(greatest(p_time_on_page, 0), 86400)
  )
  on conflict (quote_id, view_id) do update set
    last_beacon_at = greatest(public.crm_quote_views.last_beacon_at, excluded.last_beacon_at),
    time_on_page = greatest(public.crm_quote_views.time_on_page, excluded.time_on_page),
    beacons = public.crm_quote_views.beacons + 1
  returning * into v_view;

  update public.crm_quote_views
    set published_at = p_now, events = events + 1
    where id = v_view.id
      and (published_at is null or published_at <= p_now - make_interval(secs => p_throttle_s))
    returning * into v_view;
  v_published := found;
  if v_published then
    select * into v_contact from public.crm_contacts where id = v_quote.contact_id;
    v_items := private.crm_to_user(v_quote.rep_user_id, 'quote-viewed', jsonb_build_object(
      'quoteId', v_quote.id,
      'quoteName', v_quote.name,
      'contactName', coalesce(private.crm_contact_name(v_contact), ''),
      'viewedAt', to_char(v_view.viewed_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
      'timeOnPage', v_view.time_on_page,
      'viewId', v_view.view_id
    ));
  end if;
  return jsonb_build_object('viewId', p_view, 'published', v_published)
    || private.crm_emit(v_items, 0);
end
$$;

revoke execute on function public.crm_quote_upsert(text, text, text, text, text)
  from public, anon, authenticated;
revoke execute on function public.crm_quote_view(text, text, text, text, integer, timestamptz,
  integer) from public, anon, authenticated;
grant execute on function public.crm_quote_upsert(text, text, text, text, text) to service_role;
grant execute on function public.crm_quote_view(text, text, text, text, integer, timestamptz,
  integer) to service_role;
