-- Who may receive (select) and send (insert) on a private Supabase Realtime topic, the same
-- rules /api/realtime/auth applies to Pusher channels (lib/realtime/channels.py):
--
--   topic                 Pusher channel(s)                              who
--   user-{id}             private-user-{id}, private-encrypted-user-{id} that user
--   location-{id}         private-location-{id}, presence-location-{id}  location members
--   poker-{uuid}          presence-poker-{uuid}                          session members
--   conversation-{uuid}   private-conversation-{uuid}                    participants
--
-- Only the server publishes on these topics (with the service role, which bypasses RLS):
-- no client may insert there, so nobody can forge a server event (`new-message`,
-- `votes-revealed`). What Pusher calls client events (`client-typing` on
-- private-conversation-{id}) travel on a separate topic, `client:{topic}`, open to the same
-- members for receiving and sending. Supabase Realtime checks "may send" once per channel
-- join, by inserting a probe row (topic, extension) with no event, so RLS cannot tell events
-- apart on one topic; a topic of their own keeps client events from ever being mistaken for
-- server events. Front ends listen for server events on `{topic}` only and for client events
-- on `client:{topic}` only. (A `:` never occurs in a Pusher channel name, so `client:` topics
-- have no Pusher twin.) A row inserted directly must still carry a `client-` event name.
--
-- private.can_access_topic() is the one place these rules live in SQL: the realtime.messages
-- policies call it with realtime.topic() and the JWT subject, and public.can_subscribe()
-- (service role only) lets lib/realtime/channels.py ask the very same question through
-- PostgREST. A new channel family adds a branch here (in a new migration) and a rule in
-- channels.py.

create or replace function private.can_access_topic(p_topic text, p_user_id text)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(
    case
      when p_user_id is null or t.topic is null then false
      when t.topic like 'user-%' then substr(t.topic, 6) = p_user_id
      when t.topic like 'location-%' then
        private.is_location_member(substr(t.topic, 10), p_user_id)
      when t.topic ~* '^poker-[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$' then
        private.is_poker_member(substr(t.topic, 7)::uuid, p_user_id)
      when t.topic ~* '^conversation-[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$' then
        private.is_conversation_participant(substr(t.topic, 14)::uuid, p_user_id)
      else false
    end,
    false
  )
  -- `client:{topic}` (client events) has the members of `{topic}`
  from (
    select case when p_topic like 'client:%' then substr(p_topic, 8) else p_topic end as topic
  ) t
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
    and realtime.messages.topic = (select realtime.topic())
    and (select private.can_access_topic(
      (select realtime.topic()), (select auth.jwt() ->> 'sub')
    ))
  );

create policy "realtime: members send client events on client topics"
  on realtime.messages for insert to authenticated
  with check (
    realtime.messages.extension = 'broadcast'
    and realtime.messages.topic = (select realtime.topic())
    and realtime.messages.topic like 'client:%'
    and (realtime.messages.event is null or realtime.messages.event like 'client-%')
    and (select private.can_access_topic(
      (select realtime.topic()), (select auth.jwt() ->> 'sub')
    ))
  );
