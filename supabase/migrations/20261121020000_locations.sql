-- Locations and their members: who may follow `private-location-{id}` / `presence-location-{id}`
-- (and the Supabase topic `location-{id}`). CRM (GoHighLevel sub-accounts) fills these later, so
-- a location id is text: GoHighLevel's own ids are used as is, restricted to the characters a
-- Pusher channel name allows.
--
-- Membership is decided by private.is_location_member(): a security definer function in the
-- `private` schema, which PostgREST does not expose. RLS policies (here and on
-- realtime.messages) call it, so `authenticated` may execute it; nobody can call it over HTTP.
-- Members are written by the service role only.

create schema if not exists private;
revoke all on schema private from public;
grant usage on schema private to authenticated, service_role;

create table public.locations (
  id text primary key check (id ~ '^[A-Za-z0-9_=@,.;-]{1,128}$'),
  name text not null default '' check (char_length(name) <= 200),
  created_at timestamptz not null default now()
);

create table public.location_members (
  location_id text not null references public.locations (id) on delete cascade,
  user_id text not null check (char_length(user_id) between 1 and 128),
  role text not null default 'member' check (role in ('owner', 'admin', 'member')),
  created_at timestamptz not null default now(),
  primary key (location_id, user_id)
);

create index location_members_user_id_idx on public.location_members (user_id);

create or replace function private.is_location_member(p_location_id text, p_user_id text)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select exists (
    select 1 from public.location_members m
    where m.location_id = p_location_id and m.user_id = p_user_id
  )
$$;

revoke execute on function private.is_location_member(text, text) from public, anon;
grant execute on function private.is_location_member(text, text) to authenticated, service_role;

alter table public.locations enable row level security;
alter table public.location_members enable row level security;

create policy "locations: members read their locations"
  on public.locations for select to authenticated
  using (private.is_location_member(id, (select auth.jwt() ->> 'sub')));

create policy "location_members: members read their co-members"
  on public.location_members for select to authenticated
  using (private.is_location_member(location_id, (select auth.jwt() ->> 'sub')));

revoke all on public.locations, public.location_members from anon, authenticated;
grant select on public.locations, public.location_members to authenticated;
grant select, insert, update, delete on public.locations, public.location_members to service_role;
