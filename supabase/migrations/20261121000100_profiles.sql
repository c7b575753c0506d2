-- Profiles: one row per user, keyed by the auth subject. The subject is text so Clerk ids
-- ("user_2abc...") and Supabase uuids both fit. This file is the pattern every table follows:
-- RLS enabled with the table, one policy per operation and role comparing the user id with
-- (select auth.jwt() ->> 'sub') -- never the uid helper, which returns a uuid on Supabase --, explicit
-- grants, nothing for anon.

create table public.profiles (
  id text primary key check (char_length(id) between 1 and 128),
  display_name text check (char_length(display_name) <= 200),
  avatar_url text check (char_length(avatar_url) <= 2048),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

alter table public.profiles enable row level security;

create policy "profiles: users read their own"
  on public.profiles for select to authenticated
  using (id = (select auth.jwt() ->> 'sub'));

create policy "profiles: users create their own"
  on public.profiles for insert to authenticated
  with check (id = (select auth.jwt() ->> 'sub'));

create policy "profiles: users update their own"
  on public.profiles for update to authenticated
  using (id = (select auth.jwt() ->> 'sub'))
  with check (id = (select auth.jwt() ->> 'sub'));

create policy "profiles: users delete their own"
  on public.profiles for delete to authenticated
  using (id = (select auth.jwt() ->> 'sub'));

create or replace function public.touch_updated_at()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.updated_at := now();
  return new;
end
$$;

create trigger profiles_touch_updated_at
  before update on public.profiles
  for each row execute function public.touch_updated_at();

revoke all on public.profiles from anon, authenticated;
grant select, insert, update, delete on public.profiles to authenticated;
grant select, insert, update, delete on public.profiles to service_role;
