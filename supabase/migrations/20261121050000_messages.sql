-- Messaging: messages, read positions and unread counters, on top of the conversation tables
-- of 20261121020200_conversation_membership (extended here, never edited there).
--
--   conversations              + created_by, client_id (creation is idempotent per creator),
--                                last_message_id, last_activity_at (the inbox order)
--   conversation_participants  + last_read_message_id (read receipts: everything up to it is
--                                read), unread_count (messages from others after it)
--   messages                   id is the cursor: global identity, and per conversation ids
--                                commit in id order (messaging_send locks the conversation row
--                                before inserting), so "after n" never misses a later commit.
--                                (sender_id, client_id) is unique: a retried send finds the
--                                message its first attempt stored.
--
-- Written only by the service role's command functions (20261121050003_messaging_commands);
-- participants read the messages of their conversations.

alter table public.conversations
  add column created_by text check (char_length(created_by) between 1 and 128),
  add column client_id text check (char_length(client_id) between 1 and 64),
  add column last_message_id bigint,
  add column last_activity_at timestamptz not null default now();

create unique index conversations_created_by_client_id_key
  on public.conversations (created_by, client_id)
  where client_id is not null;

alter table public.conversation_participants
  add column last_read_message_id bigint not null default 0 check (last_read_message_id >= 0),
  add column unread_count integer not null default 0 check (unread_count >= 0);

create table public.messages (
  id bigint generated always as identity primary key,
  conversation_id uuid not null references public.conversations (id) on delete cascade,
  sender_id text not null check (char_length(sender_id) between 1 and 128),
  client_id text not null check (char_length(client_id) between 1 and 64),
  body text not null check (char_length(body) between 1 and 4000),
  created_at timestamptz not null default now(),
  constraint messages_sender_id_client_id_key unique (sender_id, client_id)
);

comment on table public.messages is
  'Chat messages; id is the stable cursor (delta after / page before). See migration header.';

create index messages_conversation_id_id_idx on public.messages (conversation_id, id);

alter table public.conversations
  add constraint conversations_last_message_id_fkey
  foreign key (last_message_id) references public.messages (id) on delete set null;

alter table public.messages enable row level security;

create policy "messages: participants read their conversations' messages"
  on public.messages for select to authenticated
  using (private.is_conversation_participant(conversation_id, (select auth.jwt() ->> 'sub')));

revoke all on public.messages from anon, authenticated;
grant select on public.messages to authenticated;
grant select, insert, update, delete on public.messages to service_role;
