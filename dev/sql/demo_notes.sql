-- Test and benchmark fixture, not a migration: the smallest command that follows the outbox
-- pattern. The test stack (StackConfig.ephemeral_for_tests) applies it after the migrations;
-- `make dev` and deployments never do. Idempotent. A real feature copies its shape:
--
--   1. one security definer function per command (service role only, explicit grants),
--   2. the state change and public.outbox_enqueue() in that one transaction,
--   3. return the result together with `events` = public.outbox_rows(<ids queued>), which the
--      api function hands to lib.realtime.outbox.commit_events() to publish.
--
-- demo_note_add('42', 'hello') stores a note for user 42 and queues `note-added` on
-- `private-user-42`. A failure anywhere (a bad body, an invalid channel) rolls back both.

create table if not exists public.demo_notes (
  id bigint generated always as identity primary key,
  user_id text not null check (char_length(user_id) between 1 and 128),
  body text not null check (char_length(body) between 1 and 100000),
  created_at timestamptz not null default now()
);

create index if not exists demo_notes_user_id_idx on public.demo_notes (user_id, id);

alter table public.demo_notes enable row level security;

drop policy if exists "demo_notes: users read their own" on public.demo_notes;
create policy "demo_notes: users read their own"
  on public.demo_notes for select to authenticated
  using (user_id = (select auth.jwt() ->> 'sub'));

revoke all on public.demo_notes from anon, authenticated;
grant select on public.demo_notes to authenticated;
grant select, insert, update, delete on public.demo_notes to service_role;

create or replace function public.demo_note_add(p_user text, p_body text)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_note public.demo_notes;
  v_event bigint;
begin
  insert into public.demo_notes (user_id, body)
  values (p_user, p_body)
  returning * into v_note;
  v_event := public.outbox_enqueue(
    'private-user-' || p_user,
    'note-added',
    jsonb_build_object('note', jsonb_build_object(
      'id', v_note.id, 'body', v_note.body, 'createdAt', v_note.created_at
    ))
  );
  return jsonb_build_object(
    'note', jsonb_build_object('id', v_note.id, 'userId', v_note.user_id),
    'events', public.outbox_rows(array[v_event])
  );
end
$$;

revoke execute on function public.demo_note_add(text, text) from public, anon, authenticated;
grant execute on function public.demo_note_add(text, text) to service_role;
