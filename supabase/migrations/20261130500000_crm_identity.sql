-- CRM identity: HighLevel (GoHighLevel) locations and users, and who of our app users they are.
--
--   crm_locations       one row per HighLevel location (sub-account) we know, beside the core
--                       `locations` row it extends: company, time zone (revenue "today" is a day
--                       there), installed / uninstalled (AppInstall, AppUninstall)
--   crm_users           HighLevel users (UserCreate/UserUpdate): names for "sales rep"
--   crm_user_locations  the locations of each HighLevel user, with their role there
--   crm_user_links      an explicit link app user -> HighLevel user (crm.linkUser, operators).
--                       Without one, an app user IS the HighLevel user of the same id (the app
--                       signs users in with their HighLevel identity: JWT `sub` = GHL user id).
--
-- Membership: a HighLevel user's locations become `location_members` rows of the app user they
-- resolve to (private.crm_app_user), while the location is installed; that is what gates
-- private-location-{id} / presence-location-{id} (20261121020000_locations). AppUninstall
-- removes the location's members. Every CRM event addressed to a HighLevel user goes to
-- private-user-{app user}.
--
-- Processors (service role only, run by webhook_ingest in the delivery's transaction; the
-- envelope is lib/features/crm/envelope.py's: {type, locationId, assignee, data}; like every
-- CRM processor they end with private.crm_emit, 20261130500100, which fires due reminders):
--   crm_on_location  AppInstall, AppUninstall, LocationCreate, LocationUpdate
--   crm_on_user      UserCreate, UserUpdate, UserDelete
-- and crm_link_user(app user, ghl user) for the operators' crm.linkUser.

create table public.crm_locations (
  location_id text primary key references public.locations (id) on delete cascade,
  company_id text check (char_length(company_id) <= 128),
  time_zone text not null default 'UTC' check (char_length(time_zone) between 1 and 64),
  installed_at timestamptz,
  uninstalled_at timestamptz,
  updated_at timestamptz not null default now()
);

create table public.crm_users (
  id text primary key check (id ~ '^[A-Za-z0-9_=@,.;-]{1,128}$'),
  name text not null default '' check (char_length(name) <= 200),
  email text check (char_length(email) <= 320),
  deleted_at timestamptz,
  updated_at timestamptz not null default now()
);

create table public.crm_user_locations (
  ghl_user_id text not null references public.crm_users (id) on delete cascade,
  location_id text not null references public.locations (id) on delete cascade,
  role text not null default 'member' check (role in ('admin', 'member')),
  primary key (ghl_user_id, location_id)
);

create index crm_user_locations_location_id_idx on public.crm_user_locations (location_id);

create table public.crm_user_links (
  app_user_id text primary key check (app_user_id ~ '^[-a-zA-Z0-9_=@,.;]{1,128}$'),
  ghl_user_id text not null unique check (char_length(ghl_user_id) between 1 and 128),
  linked_by text not null check (char_length(linked_by) between 1 and 128),
  created_at timestamptz not null default now()
);

alter table public.crm_locations enable row level security;
alter table public.crm_users enable row level security;
alter table public.crm_user_locations enable row level security;
alter table public.crm_user_links enable row level security;

create policy "crm_locations: members read their locations"
  on public.crm_locations for select to authenticated
  using (private.is_location_member(location_id, (select auth.jwt() ->> 'sub')));

create policy "crm_user_locations: members read their locations' users"
  on public.crm_user_locations for select to authenticated
  using (private.is_location_member(location_id, (select auth.jwt() ->> 'sub')));

create policy "crm_user_links: users read their own link"
  on public.crm_user_links for select to authenticated
  using (app_user_id = (select auth.jwt() ->> 'sub'));
-- crm_users: no client policy (emails); names reach clients inside events and query results.

revoke all on public.crm_locations, public.crm_users, public.crm_user_locations,
  public.crm_user_links from anon, authenticated;
grant select on public.crm_locations, public.crm_user_locations, public.crm_user_links
  to authenticated;
grant select, insert, update, delete on public.crm_locations, public.crm_users,
  public.crm_user_locations, public.crm_user_links to service_role;

-- The app user a HighLevel user is: the explicit link, else the same id. Null when there is
-- none or the id cannot name a channel.
create or replace function private.crm_app_user(p_ghl_user text)
returns text
language sql
stable
security definer
set search_path = ''
as $$
  select case when v.id ~ '^[-a-zA-Z0-9_=@,.;]{1,128}$' then v.id end
  from (
    select coalesce(
      (select l.app_user_id from public.crm_user_links l where l.ghl_user_id = p_ghl_user),
      nullif(p_ghl_user, '')
    ) as id
  ) v
$$;

-- The HighLevel user an app user is (the inverse of crm_app_user).
create or replace function private.crm_ghl_user(p_app_user text)
returns text
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(
    (select l.ghl_user_id from public.crm_user_links l where l.app_user_id = p_app_user),
    case when not exists (select 1 from public.crm_user_links l where l.ghl_user_id = p_app_user)
      then p_app_user end
  )
$$;

-- A location id from an event: the core `locations` row and its crm_locations row exist after
-- this. A missing or malformed id fails the event (kept as failed, visible to operators).
create or replace function private.crm_location(p_location text)
returns text
language plpgsql
volatile
security definer
set search_path = ''
as $$
begin
  if p_location is null or p_location !~ '^[A-Za-z0-9_=@,.;-]{1,128}$' then
    raise exception 'a CRM event needs a valid locationId (got %)', coalesce(left(p_location, 140), 'none')
      using errcode = '22023';
  end if;
  insert into public.locations (id) values (p_location) on conflict (id) do nothing;
  insert into public.crm_locations (location_id) values (p_location)
    on conflict (location_id) do nothing;
  return p_location;
end
$$;

-- An IANA zone name Postgres knows, else null.
create or replace function private.crm_time_zone(p_zone text)
returns text
language plpgsql
stable
set search_path = ''
as $$
begin
  if p_zone is null or p_zone = '' or char_length(p_zone) > 64 then
    return null;
  end if;
  perform now() at time zone p_zone;
  return p_zone;
exception when others then
  return null;
end
$$;

-- A HighLevel timestamp: ISO-8601 with an offset as is; without one, local to `p_zone`.
create or replace function private.crm_timestamp(p_value text, p_zone text)
returns timestamptz
language plpgsql
stable
set search_path = ''
as $$
begin
  if p_value is null or p_value = '' then
    return null;
  end if;
  if p_value ~ '(Z|z|[+-][0-9]{2}(:?[0-9]{2})?)$' then
    return p_value::timestamptz;
  end if;
  return p_value::timestamp at time zone coalesce(p_zone, 'UTC');
exception when others then
  return null;
end
$$;

-- Give the app user of `p_ghl_user` a membership in each of that user's installed locations.
create or replace function private.crm_sync_members(p_ghl_user text)
returns void
language sql
volatile
security definer
set search_path = ''
as $$
  insert into public.location_members (location_id, user_id, role)
  select ul.location_id, private.crm_app_user(ul.ghl_user_id), ul.role
  from public.crm_user_locations ul
  join public.crm_locations l on l.location_id = ul.location_id
  join public.crm_users u on u.id = ul.ghl_user_id
  where ul.ghl_user_id = p_ghl_user
    and l.uninstalled_at is null
    and u.deleted_at is null
    and private.crm_app_user(ul.ghl_user_id) is not null
  on conflict (location_id, user_id) do update set role = excluded.role
$$;

-- Take away the memberships `p_app_user` had through `p_ghl_user`.
create or replace function private.crm_drop_members(p_app_user text, p_ghl_user text)
returns void
language sql
volatile
security definer
set search_path = ''
as $$
  delete from public.location_members m
  using public.crm_user_locations ul
  where ul.ghl_user_id = p_ghl_user and m.location_id = ul.location_id
    and m.user_id = p_app_user
$$;

create or replace function public.crm_on_location(p_event jsonb)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_type text := p_event ->> 'type';
  v_data jsonb := coalesce(p_event -> 'data', '{}'::jsonb);
  v_location text := nullif(p_event ->> 'locationId', '');
  v_zone text := private.crm_time_zone(coalesce(v_data ->> 'timezone', v_data ->> 'timeZone'));
  v_installer text := nullif(v_data ->> 'userId', '');
  v_ghl text;
begin
  if v_location is null and v_type in ('AppInstall', 'AppUninstall') then
    -- a company-level (agency) install: no location to follow
    return jsonb_build_object('location', null, 'skipped', 'no locationId')
      || private.crm_emit('[]'::jsonb);
  end if;
  perform private.crm_location(v_location);
  update public.locations
    set name = left(coalesce(nullif(v_data ->> 'name', ''), name), 200)
    where id = v_location;
  update public.crm_locations
    set company_id = coalesce(nullif(v_data ->> 'companyId', ''), company_id),
        time_zone = coalesce(v_zone, time_zone),
        installed_at = case when v_type = 'AppInstall' then now() else installed_at end,
        uninstalled_at = case
          when v_type = 'AppInstall' then null
          when v_type = 'AppUninstall' then now()
          else uninstalled_at end,
        updated_at = now()
    where location_id = v_location;

  if v_type = 'AppUninstall' then
    delete from public.location_members where location_id = v_location;
    return jsonb_build_object('location', v_location, 'status', 'uninstalled')
      || private.crm_emit('[]'::jsonb);
  end if;
  if v_type = 'AppInstall' and v_installer is not null then
    insert into public.crm_users (id) values (v_installer) on conflict (id) do nothing;
    insert into public.crm_user_locations (ghl_user_id, location_id, role)
      values (v_installer, v_location, 'admin')
      on conflict (ghl_user_id, location_id) do nothing;
  end if;
  -- (re)installed: everyone HighLevel told us works here is a member again
  for v_ghl in
    select ghl_user_id from public.crm_user_locations where location_id = v_location
  loop
    perform private.crm_sync_members(v_ghl);
  end loop;
  return jsonb_build_object('location', v_location, 'status', 'installed')
    || private.crm_emit('[]'::jsonb);
end
$$;

create or replace function public.crm_on_user(p_event jsonb)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_data jsonb := coalesce(p_event -> 'data', '{}'::jsonb);
  v_id text := nullif(v_data ->> 'id', '');
  v_role text := case
    when lower(coalesce(v_data -> 'roles' ->> 'role', v_data ->> 'role', '')) = 'admin'
      then 'admin' else 'member' end;
  v_name text := coalesce(
    nullif(v_data ->> 'name', ''),
    nullif(trim(concat_ws(' ', v_data ->> 'firstName', v_data ->> 'lastName')), ''),
    ''
  );
  v_locations text[];
  v_location text;
  v_app text;
begin
  if v_id is null or v_id !~ '^[A-Za-z0-9_=@,.;-]{1,128}$' then
    raise exception 'a user event needs a valid id' using errcode = '22023';
  end if;
  if p_event ->> 'type' = 'UserDelete' then
    update public.crm_users set deleted_at = now(), updated_at = now() where id = v_id;
    v_app := private.crm_app_user(v_id);
    if v_app is not null then
      perform private.crm_drop_members(v_app, v_id);
    end if;
    return jsonb_build_object('user', v_id, 'status', 'deleted')
      || private.crm_emit('[]'::jsonb);
  end if;

  insert into public.crm_users (id, name, email)
    values (v_id, left(v_name, 200), left(nullif(v_data ->> 'email', ''), 320))
    on conflict (id) do update
      set name = excluded.name, email = coalesce(excluded.email, public.crm_users.email),
          deleted_at = null, updated_at = now();

  -- locations: `locations` (ids or {id}), `roles.locationIds`, or the envelope's locationId
  select coalesce(array_agg(distinct l), '{}') into v_locations
  from (
    select case jsonb_typeof(e) when 'string' then e #>> '{}' else e ->> 'id' end as l
      from jsonb_array_elements(
        case jsonb_typeof(v_data -> 'locations') when 'array' then v_data -> 'locations'
          else '[]'::jsonb end
      ) e
    union all
    select e #>> '{}'
      from jsonb_array_elements(
        case jsonb_typeof(v_data -> 'roles' -> 'locationIds') when 'array'
          then v_data -> 'roles' -> 'locationIds' else '[]'::jsonb end
      ) e
    union all
    select nullif(p_event ->> 'locationId', '')
  ) found
  where l is not null and l ~ '^[A-Za-z0-9_=@,.;-]{1,128}$';

  foreach v_location in array v_locations loop
    perform private.crm_location(v_location);
    insert into public.crm_user_locations (ghl_user_id, location_id, role)
      values (v_id, v_location, v_role)
      on conflict (ghl_user_id, location_id) do update set role = excluded.role;
  end loop;
  perform private.crm_sync_members(v_id);
  return jsonb_build_object('user', v_id, 'locations', to_jsonb(v_locations))
    || private.crm_emit('[]'::jsonb);
end
$$;

-- crm.linkUser: `p_app_user` is HighLevel user `p_ghl_user` from now on. A previous link of
-- either side is replaced, and the memberships it gave are taken away.
create or replace function public.crm_link_user(p_app_user text, p_ghl_user text, p_by text)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_previous_ghl text := private.crm_ghl_user(p_app_user);
  v_previous_app text := private.crm_app_user(p_ghl_user);
begin
  if v_previous_ghl is not null and v_previous_ghl is distinct from p_ghl_user then
    perform private.crm_drop_members(p_app_user, v_previous_ghl);
  end if;
  if v_previous_app is not null and v_previous_app is distinct from p_app_user then
    perform private.crm_drop_members(v_previous_app, p_ghl_user);
  end if;
  delete from public.crm_user_links where app_user_id = p_app_user or ghl_user_id = p_ghl_user;
  insert into public.crm_user_links (app_user_id, ghl_user_id, linked_by)
    values (p_app_user, p_ghl_user, p_by);
  perform private.crm_sync_members(p_ghl_user);
  return jsonb_build_object(
    'appUserId', p_app_user,
    'ghlUserId', p_ghl_user,
    'locations', (
      select coalesce(jsonb_agg(m.location_id order by m.location_id), '[]'::jsonb)
      from public.location_members m
      where m.user_id = p_app_user
        and m.location_id in (
          select ul.location_id from public.crm_user_locations ul
          where ul.ghl_user_id = p_ghl_user
        )
    )
  );
end
$$;

revoke execute on function private.crm_app_user(text) from public, anon, authenticated;
revoke execute on function private.crm_ghl_user(text) from public, anon, authenticated;
revoke execute on function private.crm_location(text) from public, anon, authenticated;
revoke execute on function private.crm_time_zone(text) from public, anon, authenticated;
revoke execute on function private.crm_timestamp(text, text) from public, anon, authenticated;
revoke execute on function private.crm_sync_members(text) from public, anon, authenticated;
revoke execute on function private.crm_drop_members(text, text)
  from public, anon, authenticated;
revoke execute on function public.crm_on_location(jsonb) from public, anon, authenticated;
revoke execute on function public.crm_on_user(jsonb) from public, anon, authenticated;
revoke execute on function public.crm_link_user(text, text, text)
  from public, anon, authenticated;
grant execute on function private.crm_app_user(text) to service_role;
grant execute on function private.crm_ghl_user(text) to service_role;
grant execute on function private.crm_location(text) to service_role;
grant execute on function private.crm_time_zone(text) to service_role;
grant execute on function private.crm_timestamp(text, text) to service_role;
grant execute on function private.crm_sync_members(text) to service_role;
grant execute on function private.crm_drop_members(text, text) to service_role;
grant execute on function public.crm_on_location(jsonb) to service_role;
grant execute on function public.crm_on_user(jsonb) to service_role;
grant execute on function public.crm_link_user(text, text, text) to service_role;
