-- Planning poker, the game itself: extends poker_sessions (migration
-- 20261121020100_poker_membership) with its deck and status, and adds tasks and votes.
--
-- A task goes pending -> voting -> revealed -> finalized; starting a revealed task again is
-- a re-vote (its votes are cleared, `round` counts up). At most one task of a session is in
-- voting. A vote's value is a card of the session's deck; a member sees their own vote at
-- any time and the others' only once the task is revealed. An ended session is read-only.
-- Written by the service role only (the poker_* command functions); members read.

alter table public.poker_sessions
  add column deck_type text not null default 'fibonacci'
    check (deck_type in ('fibonacci', 't-shirt', 'custom')),
  add column deck text[] not null
    default array['0', '1', '2', '3', '5', '8', '13', '21', '34', '55', '89', '?', '☕']
    check (cardinality(deck) between 2 and 30 and array_position(deck, null) is null),
  add column status text not null default 'open' check (status in ('open', 'ended')),
  add column ended_at timestamptz,
  add constraint poker_sessions_ended_at_check check ((status = 'ended') = (ended_at is not null));

create table public.poker_tasks (
  id uuid primary key default gen_random_uuid(),
  session_id uuid not null references public.poker_sessions (id) on delete cascade,
  position integer not null check (position >= 1),
  title text not null check (char_length(title) between 1 and 500),
  status text not null default 'pending'
    check (status in ('pending', 'voting', 'revealed', 'finalized')),
  round integer not null default 0 check (round >= 0),
  estimate text check (char_length(estimate) between 1 and 16),
  created_at timestamptz not null default now(),
  started_at timestamptz,
  revealed_at timestamptz,
  finalized_at timestamptz,
  unique (session_id, position),
  check ((status = 'finalized') = (estimate is not null))
);

create unique index poker_tasks_one_voting_idx
  on public.poker_tasks (session_id) where status = 'voting';

create table public.poker_votes (
  task_id uuid not null references public.poker_tasks (id) on delete cascade,
  user_id text not null check (char_length(user_id) between 1 and 128),
  value text not null check (char_length(value) between 1 and 16),
  voted_at timestamptz not null default now(),
  primary key (task_id, user_id)
);

-- Whether `p_user_id` may see every vote on a task: a member, once the task is revealed.
create or replace function private.poker_votes_visible(p_task_id uuid, p_user_id text)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select exists (
    select 1 from public.poker_tasks t
    where t.id = p_task_id
      and t.status in ('revealed', 'finalized')
      and private.is_poker_member(t.session_id, p_user_id)
  )
$$;

revoke execute on function private.poker_votes_visible(uuid, text) from public, anon;
grant execute on function private.poker_votes_visible(uuid, text) to authenticated, service_role;

alter table public.poker_tasks enable row level security;
alter table public.poker_votes enable row level security;

create policy "poker_tasks: members read the tasks of their sessions"
  on public.poker_tasks for select to authenticated
  using (private.is_poker_member(session_id, (select auth.jwt() ->> 'sub')));

create policy "poker_votes: voters read their own, members all once revealed"
  on public.poker_votes for select to authenticated
  using (
    user_id = (select auth.jwt() ->> 'sub')
    or private.poker_votes_visible(task_id, (select auth.jwt() ->> 'sub'))
  );

revoke all on public.poker_tasks, public.poker_votes from anon, authenticated;
grant select on public.poker_tasks, public.poker_votes to authenticated;
grant select, insert, update, delete on public.poker_tasks, public.poker_votes to service_role;
