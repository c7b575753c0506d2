-- Who may receive (select) and send (insert) on a private Supabase Realtime topic, the same
-- rules /api/realtime/auth applies to Pusher channels (lib/realtime/channels.py):
--
--   topic                 Pusher channel(s)                              who
--   user-{id}             private-user-{id}, private-encrypted-user-{id} that user
--   location-{id}         private-location-{id}, presence-location-{id}  location members
--   poker-{uuid}          presence-poker-{uuid}                          session members
--   conversation-{uuid}   private-conversation-{uuid}                    participants
--
-- private.can_access_topic() is the one place these rules live in SQL: the realtime.messages
-- policies call it with realtime.topic() and auth.uid(), and public.can_subscribe() (service
-- role only) lets lib/realtime/channels.py ask the very same question through PostgREST.
-- A new channel family adds a branch here (in a new migration) and a rule in channels.py.

create or replace function private.can_access_topic(p_topic text, p_user_id text)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(
    case
      when p_user_id is null or p_topic is null then false
      when p_topic like 'user-%' then substr(p_topic, 6) = p_user_id
      when p_topic like 'location-%' then
        private.is_location_member(substr(p_topic, 10), p_user_id)
      when p_topic ~* '^poker-[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$' then
        private.is_poker_member(substr(p_topic, 7)::uuid, p_user_id)
      when p_topic ~* '^conversation-[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$' then
        private.is_conversation_participant(substr(p_topic, 14)::uuid, p_user_id)
      else false
    end,
    false
  )
$$;

revoke execute on function private.can_access_topic(text, text) from public, anon;
grant execute on function private.can_access_topic(text, text) to authenticated, service_role;

create or replace function public.can_subscribe(p_user_id text, p_topic text)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select private.can_access_topic(p_topic, p_user_id)
$$;

revoke execute on function public.can_subscribe(text, text) from public, anon, authenticated;
grant execute on function public.can_subscribe(text, text) to service_role;

create policy "realtime: members receive on private topics"
  on realtime.messages for select to authenticated
  using (
    realtime.messages.extension = 'broadcast'
    and (select private.can_access_topic((select realtime.topic()), (select auth.uid())))
  );

create policy "realtime: members send on private topics"
  on realtime.messages for insert to authenticated
  with check (
    realtime.messages.extension = 'broadcast'
    and (select private.can_access_topic((select realtime.topic()), (select auth.uid())))
  );
