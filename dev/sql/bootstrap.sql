-- What a hosted Supabase project has before our migrations run, so the same migration files
-- apply locally and to the cloud unchanged. It copies the hosted shape where the migrations
-- could notice a difference:
--   * auth.uid() returns uuid (it casts the JWT `sub`), as on Supabase: a policy comparing it
--     with a text column fails with `operator does not exist: text = uuid`, and a Clerk id
--     ("user_2x...") would not even cast. Migrations use (select auth.jwt() ->> 'sub') instead.
--   * default privileges: everything new in schema public is granted to anon, authenticated and
--     service_role (the Supabase default until 2026-05-30, and the dashboard's "Default
--     privileges for new entities" option since). That is the permissive shape: migrations must
--     revoke what clients may not use and rely on RLS. Newer projects grant nothing by default;
--     migrations write explicit grants, so they apply to both (tests/test_hosted_shape.py).
--   * pgcrypto and uuid-ossp live in schema `extensions`, which is NOT on any search_path here:
--     a migration that calls digest() unqualified fails locally instead of on the cloud.
--   * realtime.messages is partitioned by inserted_at, with RLS on, granted to the API roles
--     as Supabase Realtime grants it.
-- Idempotent: runs at every start of the local stack. A database bootstrapped by an older
-- version of this file (auth.uid() returning text) is refused with a hint to `make reset`.

do $$
begin
  if exists (
    select 1 from pg_proc p join pg_namespace n on n.oid = p.pronamespace
    where n.nspname = 'auth' and p.proname = 'uid' and p.prorettype = 'text'::regtype
  ) or exists (
    select 1 from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'realtime' and c.relname = 'messages' and c.relkind = 'r'
  ) then
    raise exception 'this database has the old local Supabase shape (auth.uid() returning text)'
      using hint = 'the migrations changed in place (README, Changelog): run `make reset`';
  end if;
end
$$;

-- Roles ------------------------------------------------------------------------------------
do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'anon') then
    create role anon nologin noinherit;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'authenticated') then
    create role authenticated nologin noinherit;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'service_role') then
    create role service_role nologin noinherit bypassrls;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'authenticator') then
    create role authenticator login noinherit;
  end if;
end
$$;

alter role authenticator with login password 'postgres';
grant anon, authenticated, service_role to authenticator;

-- Schema public and its default privileges, as a hosted project has them ------------------
grant usage on schema public to anon, authenticated, service_role;
alter default privileges in schema public grant all on tables to anon, authenticated, service_role;
alter default privileges in schema public
  grant all on functions to anon, authenticated, service_role;
alter default privileges in schema public
  grant all on sequences to anon, authenticated, service_role;

-- Extensions, in their own schema ----------------------------------------------------------
create schema if not exists extensions;
grant usage on schema extensions to anon, authenticated, service_role;

do $$
declare
  v_name text;
begin
  foreach v_name in array array['pgcrypto', 'uuid-ossp'] loop
    -- a Postgres build without contrib (some embedded ones) simply goes without
    if exists (select 1 from pg_available_extensions where name = v_name)
      and not exists (select 1 from pg_extension where extname = v_name) then
      execute format('create extension %I with schema extensions', v_name);
    end if;
  end loop;
end
$$;

-- auth: the JWT claims PostgREST (and Realtime) put in request.jwt.claims ------------------
create schema if not exists auth;
grant usage on schema auth to anon, authenticated, service_role;

create or replace function auth.jwt() returns jsonb
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim', true), ''),
    nullif(current_setting('request.jwt.claims', true), '')
  )::jsonb
$$;

-- As on Supabase: a uuid. Our user ids are text (Clerk's "user_..." as well as Supabase
-- uuids), so migrations never call it; they read (select auth.jwt() ->> 'sub').
create or replace function auth.uid() returns uuid
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.sub', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
  )::uuid
$$;

create or replace function auth.role() returns text
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.role', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
  )::text
$$;

create or replace function auth.email() returns text
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.email', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'email')
  )::text
$$;

grant execute on function auth.jwt(), auth.uid(), auth.role(), auth.email()
  to anon, authenticated, service_role;

-- realtime: Supabase Realtime's messages table and topic(), where broadcast RLS is decided --
-- Realtime checks "may receive" by selecting, and "may send" by inserting (topic, extension)
-- with realtime.topic and request.jwt.claims set, then rolls back.
create schema if not exists realtime;
grant usage on schema realtime to anon, authenticated, service_role;

create table if not exists realtime.messages (
  topic text not null,
  extension text not null,
  payload jsonb,
  event text,
  private boolean default false,
  updated_at timestamp without time zone not null default now(),
  inserted_at timestamp without time zone not null default now(),
  id uuid not null default gen_random_uuid(),
  primary key (id, inserted_at)
) partition by range (inserted_at);

-- Realtime adds daily partitions and, since 2026-06, a default one; the default is enough here.
create table if not exists realtime.messages_default partition of realtime.messages default;

create index if not exists messages_inserted_at_topic_index
  on only realtime.messages (inserted_at desc, topic)
  where extension = 'broadcast' and private is true;

alter table realtime.messages enable row level security;
grant select, insert, update on realtime.messages to anon, authenticated, service_role;

create or replace function realtime.topic() returns text
language sql stable
as $$
  select nullif(current_setting('realtime.topic', true), '')::text
$$;
grant execute on function realtime.topic() to anon, authenticated, service_role;

-- Where the Supabase CLI records applied migrations ----------------------------------------
create schema if not exists supabase_migrations;
create table if not exists supabase_migrations.schema_migrations (
  version text primary key,
  statements text[],
  name text
);
create table if not exists supabase_migrations.seed_files (
  path text primary key,
  hash text not null
);

-- Supabase Auth's users table (the columns migrations may rely on) ------------------------
create table if not exists auth.users (
  id uuid primary key,
  email text,
  raw_user_meta_data jsonb,
  raw_app_meta_data jsonb,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
