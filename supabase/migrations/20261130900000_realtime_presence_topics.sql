-- Realtime presence on the channel families that have it (lib/realtime/topics.py):
--
--   topic           who may see and be seen
--   poker-{uuid}    session members           (Pusher twin: presence-poker-{uuid})
--   location-{id}   location members          (Pusher twin: presence-location-{id})
--
-- Supabase Realtime checks presence separately from broadcast, with probe rows of
-- extension 'presence' on realtime.messages: SELECT = may receive presence_state/diff,
-- INSERT = may track. 20261121020300 only covers extension 'broadcast', so on hosted Supabase
-- a member's `channel.track()` on a private poker topic was refused. Members may now track and
-- see presence on these two families only; membership is still private.can_access_topic().
-- Trading has no family of its own: its events go to `user-{owner}` (no presence).

create policy "realtime: members see presence on presence topics"
  on realtime.messages for select to authenticated
  using (
    realtime.messages.extension = 'presence'
    and realtime.messages.topic = (select realtime.topic())
    and (
      realtime.messages.topic like 'poker-%' or realtime.messages.topic like 'location-%'
    )
    and (select private.can_access_topic(
      (select realtime.topic()), (select auth.jwt() ->> 'sub')
    ))
  );

create policy "realtime: members track presence on presence topics"
  on realtime.messages for insert to authenticated
  with check (
    realtime.messages.extension = 'presence'
    and realtime.messages.topic = (select realtime.topic())
    and (
      realtime.messages.topic like 'poker-%' or realtime.messages.topic like 'location-%'
    )
    and (select private.can_access_topic(
      (select realtime.topic()), (select auth.jwt() ->> 'sub')
    ))
  );
