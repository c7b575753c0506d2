-- Conversations and their participants, as much as channel authorization needs: who may
-- follow `private-conversation-{id}` (Supabase topic `conversation-{id}`). The messaging
-- feature extends these tables (messages, read receipts) in its own migrations.
-- Written by the service role only; participants read their conversations and each other.

create table public.conversations (
  id uuid primary key default gen_random_uuid(),
  title text not null default '' check (char_length(title) <= 200),
  created_at timestamptz not null default now()
);

create table public.conversation_participants (
  conversation_id uuid not null references public.conversations (id) on delete cascade,
  user_id text not null check (char_length(user_id) between 1 and 128),
  joined_at timestamptz not null default now(),
  primary key (conversation_id, user_id)
);

create index conversation_participants_user_id_idx on public.conversation_participants (user_id);

create or replace function private.is_conversation_participant(
  p_conversation_id uuid, p_user_id text
)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select exists (
    select 1 from public.conversation_participants p
    where p.conversation_id = p_conversation_id and p.user_id = p_user_id
  )
$$;

revoke execute on function private.is_conversation_participant(uuid, text) from public, anon;
grant execute on function private.is_conversation_participant(uuid, text)
  to authenticated, service_role;

alter table public.conversations enable row level security;
alter table public.conversation_participants enable row level security;

create policy "conversations: participants read their conversations"
  on public.conversations for select to authenticated
  using (private.is_conversation_participant(id, (select auth.jwt() ->> 'sub')));

create policy "conversation_participants: participants read each other"
  on public.conversation_participants for select to authenticated
  using (private.is_conversation_participant(conversation_id, (select auth.jwt() ->> 'sub')));

revoke all on public.conversations, public.conversation_participants from anon, authenticated;
grant select on public.conversations, public.conversation_participants to authenticated;
grant select, insert, update, delete on public.conversations, public.conversation_participants
  to service_role;
