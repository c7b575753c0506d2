-- Planning-poker sessions and their members, as much as channel authorization needs:
-- who may join `presence-poker-{id}` (Supabase topic `poker-{id}`). The poker feature extends
-- these tables (tasks, votes, credits) in its own migrations. The facilitator counts as a member.
-- Written by the service role only; members read their sessions and co-members.

create table public.poker_sessions (
  id uuid primary key default gen_random_uuid(),
  name text not null check (char_length(name) between 1 and 200),
  facilitator_id text not null check (char_length(facilitator_id) between 1 and 128),
  created_at timestamptz not null default now()
);

create table public.poker_members (
  session_id uuid not null references public.poker_sessions (id) on delete cascade,
  user_id text not null check (char_length(user_id) between 1 and 128),
  joined_at timestamptz not null default now(),
  primary key (session_id, user_id)
);

create index poker_members_user_id_idx on public.poker_members (user_id);
create index poker_sessions_facilitator_id_idx on public.poker_sessions (facilitator_id);

create or replace function private.is_poker_member(p_session_id uuid, p_user_id text)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select exists (
    select 1 from public.poker_members m
    where m.session_id = p_session_id and m.user_id = p_user_id
  ) or exists (
    select 1 from public.poker_sessions s
    where s.id = p_session_id and s.facilitator_id = p_user_id
  )
$$;

revoke execute on function private.is_poker_member(uuid, text) from public, anon;
grant execute on function private.is_poker_member(uuid, text) to authenticated, service_role;

alter table public.poker_sessions enable row level security;
alter table public.poker_members enable row level security;

create policy "poker_sessions: members read their sessions"
  on public.poker_sessions for select to authenticated
  using (private.is_poker_member(id, (select auth.jwt() ->> 'sub')));

create policy "poker_members: members read their co-members"
  on public.poker_members for select to authenticated
  using (private.is_poker_member(session_id, (select auth.jwt() ->> 'sub')));

revoke all on public.poker_sessions, public.poker_members from anon, authenticated;
grant select on public.poker_sessions, public.poker_members to authenticated;
grant select, insert, update, delete on public.poker_sessions, public.poker_members to service_role;
