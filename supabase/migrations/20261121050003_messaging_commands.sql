-- Messaging commands and reads: one security definer function per tRPC procedure, service role
-- only (lib/features/messaging/procedures.py calls them with the caller's user id). Each
-- command changes state and queues its events with public.outbox_enqueue() in one transaction
-- and returns them as `events` (public.outbox_rows) for lib.realtime.outbox.commit_events.
--
--   messaging_create_conversation  conversation + participants (creator included); idempotent
--                                  per (creator, client id); `conversation-added` on every
--                                  participant's private-user-{id}
--   messaging_send                 message; idempotent per (sender, client id): a retry returns
--                                  the stored message and queues nothing. `new-message` on
--                                  private-conversation-{id}; `unread-update` on each other
--                                  participant's private-user-{id}; a message_notifications row
--                                  for each recipient who is offline (private.is_user_online)
--   messaging_mark_read            read position moves forward only; `read-receipt` on the
--                                  conversation channel, `unread-update` on the reader's channel
--   messaging_conversations        the caller's conversations, most recent activity first
--   messaging_messages             a delta after a message id, or a page before one
--
-- A conversation the caller does not take part in is "conversation not found" (P0002), the
-- same answer as for one that does not exist: nothing leaks. Channels are locked in sorted
-- order (private-conversation-* sorts before private-user-*, user channels sorted), as the
-- outbox migration asks, so concurrent commands cannot deadlock on each other.

-- A user channel name for `p_user_id`, or null when the id cannot be part of a channel name
-- (participants added by other means than the API): their events are skipped, not the command.
create or replace function private.user_channel(p_user_id text)
returns text
language sql
immutable
set search_path = ''
as $$
  select case
    when ('private-user-' || p_user_id) ~ '^[-a-zA-Z0-9_=@,.;]{1,200}$'
    then 'private-user-' || p_user_id
  end
$$;

create or replace function private.message_json(p_message public.messages)
returns jsonb
language sql
stable
set search_path = ''
as $$
  select jsonb_build_object(
    'id', p_message.id,
    'conversationId', p_message.conversation_id,
    'senderId', p_message.sender_id,
    'clientId', p_message.client_id,
    'body', p_message.body,
    'createdAt', p_message.created_at
  )
$$;

-- A conversation as `p_user_id` sees it: their unread count and read position, every
-- participant's read position (read receipts), the last message.
create or replace function private.conversation_json(p_conversation_id uuid, p_user_id text)
returns jsonb
language sql
stable
set search_path = ''
as $$
  select jsonb_build_object(
    'id', c.id,
    'title', c.title,
    'createdBy', c.created_by,
    'createdAt', c.created_at,
    'lastActivityAt', c.last_activity_at,
    'unread', coalesce(me.unread_count, 0),
    'lastReadMessageId', coalesce(me.last_read_message_id, 0),
    'participants', (
      select coalesce(jsonb_agg(jsonb_build_object(
        'userId', p.user_id, 'lastReadMessageId', p.last_read_message_id
      ) order by p.joined_at, p.user_id), '[]'::jsonb)
      from public.conversation_participants p
      where p.conversation_id = c.id
    ),
    'lastMessage', (
      select private.message_json(m) from public.messages m where m.id = c.last_message_id
    )
  )
  from public.conversations c
  left join public.conversation_participants me
    on me.conversation_id = c.id and me.user_id = p_user_id
  where c.id = p_conversation_id
$$;

create or replace function private.total_unread(p_user_id text)
returns bigint
language sql
stable
set search_path = ''
as $$
  select coalesce(sum(p.unread_count), 0)::bigint
  from public.conversation_participants p
  where p.user_id = p_user_id
$$;

revoke execute on function private.user_channel(text) from public, anon, authenticated;
revoke execute on function private.message_json(public.messages) from public, anon, authenticated;
revoke execute on function private.conversation_json(uuid, text) from public, anon, authenticated;
revoke execute on function private.total_unread(text) from public, anon, authenticated;
grant execute on function private.user_channel(text) to service_role;
grant execute on function private.message_json(public.messages) to service_role;
grant execute on function private.conversation_json(uuid, text) to service_role;
grant execute on function private.total_unread(text) to service_role;

create or replace function public.messaging_create_conversation(
  p_user text, p_participants text[], p_title text, p_client_id text
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_members text[];
  v_conversation public.conversations;
  v_member text;
  v_events bigint[] := '{}';
  v_data jsonb;
begin
  select coalesce(array_agg(distinct u order by u), '{}') into v_members
  from unnest(array_append(coalesce(p_participants, '{}'), p_user)) as u
  where u is not null;
  if cardinality(v_members) < 2 then
    raise exception 'a conversation needs at least one participant besides you'
      using errcode = '22023';
  end if;
  if cardinality(v_members) > 50 then
    raise exception 'a conversation has at most 50 participants' using errcode = '22023';
  end if;

  insert into public.conversations (title, created_by, client_id)
  values (coalesce(p_title, ''), p_user, p_client_id)
  on conflict (created_by, client_id) where client_id is not null do nothing
  returning * into v_conversation;
  if v_conversation.id is null then
    select * into v_conversation from public.conversations c
    where c.created_by = p_user and c.client_id = p_client_id;
    return jsonb_build_object(
      'duplicate', true,
      'conversation', private.conversation_json(v_conversation.id, p_user),
      'events', '[]'::jsonb
    );
  end if;

  insert into public.conversation_participants (conversation_id, user_id)
  select v_conversation.id, m from unnest(v_members) as m;

  v_data := jsonb_build_object(
    'conversationId', v_conversation.id,
    'title', v_conversation.title,
    'createdBy', p_user,
    'participants', to_jsonb(v_members),
    'createdAt', v_conversation.created_at
  );
  foreach v_member in array v_members loop
    if private.user_channel(v_member) is not null then
      v_events := v_events
        || public.outbox_enqueue(private.user_channel(v_member), 'conversation-added', v_data);
    end if;
  end loop;
  return jsonb_build_object(
    'duplicate', false,
    'conversation', private.conversation_json(v_conversation.id, p_user),
    'events', public.outbox_rows(v_events)
  );
end
$$;

create or replace function public.messaging_send(
  p_user text, p_conversation uuid, p_client_id text, p_body text
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_message public.messages;
  v_existing public.messages;
  v_recipient record;
  v_channel text;
  v_events bigint[] := '{}';
  v_preview jsonb;
begin
  -- the row lock orders message ids by commit within the conversation, and serializes
  -- retries of one send
  perform 1 from public.conversations c
  where c.id = p_conversation and private.is_conversation_participant(c.id, p_user)
  for update;
  if not found then
    raise exception 'conversation not found' using errcode = 'P0002';
  end if;

  select * into v_existing from public.messages m
  where m.sender_id = p_user and m.client_id = p_client_id;
  if found then
    if v_existing.conversation_id <> p_conversation or v_existing.body <> p_body then
      return jsonb_build_object('status', 'conflict');
    end if;
    return jsonb_build_object(
      'status', 'ok', 'duplicate', true,
      'message', private.message_json(v_existing), 'events', '[]'::jsonb
    );
  end if;

  insert into public.messages (conversation_id, sender_id, client_id, body)
  values (p_conversation, p_user, p_client_id, p_body)
  on conflict (sender_id, client_id) do nothing
  returning * into v_message;
  if v_message.id is null then  -- the same client id, committed meanwhile for another conversation
    return jsonb_build_object('status', 'conflict');
  end if;

  update public.conversations
  set last_message_id = v_message.id, last_activity_at = v_message.created_at
  where id = p_conversation;

  v_events := v_events || public.outbox_enqueue(
    'private-conversation-' || p_conversation,
    'new-message',
    jsonb_build_object('conversationId', p_conversation, 'message', private.message_json(v_message))
  );

  v_preview := jsonb_build_object(
    'id', v_message.id,
    'senderId', v_message.sender_id,
    'preview', left(v_message.body, 140),
    'createdAt', v_message.created_at
  );
  for v_recipient in
    with bumped as (
      update public.conversation_participants p
      set unread_count = p.unread_count + 1
      where p.conversation_id = p_conversation and p.user_id <> p_user
      returning p.user_id, p.unread_count
    )
    select
      b.user_id,
      b.unread_count,
      b.unread_count + (
        select coalesce(sum(q.unread_count), 0) from public.conversation_participants q
        where q.user_id = b.user_id and q.conversation_id <> p_conversation
      ) as total_unread
    from bumped b
    order by b.user_id
  loop
    if not private.is_user_online(v_recipient.user_id) then
      insert into public.message_notifications (recipient_id, message_id, conversation_id)
      values (v_recipient.user_id, v_message.id, p_conversation);
    end if;
    v_channel := private.user_channel(v_recipient.user_id);
    if v_channel is not null then
      v_events := v_events || public.outbox_enqueue(
        v_channel,
        'unread-update',
        jsonb_build_object(
          'conversationId', p_conversation,
          'unread', v_recipient.unread_count,
          'totalUnread', v_recipient.total_unread,
          'lastMessage', v_preview
        )
      );
    end if;
  end loop;

  return jsonb_build_object(
    'status', 'ok', 'duplicate', false,
    'message', private.message_json(v_message), 'events', public.outbox_rows(v_events)
  );
end
$$;

create or replace function public.messaging_mark_read(
  p_user text, p_conversation uuid, p_message bigint
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_participant public.conversation_participants;
  v_unread integer;
  v_total bigint;
  v_at timestamptz := now();
  v_channel text;
  v_events bigint[] := '{}';
begin
  select * into v_participant from public.conversation_participants p
  where p.conversation_id = p_conversation and p.user_id = p_user
  for update;
  if not found then
    raise exception 'conversation not found' using errcode = 'P0002';
  end if;
  if not exists (
    select 1 from public.messages m where m.id = p_message and m.conversation_id = p_conversation
  ) then
    raise exception 'message not found in this conversation' using errcode = 'P0002';
  end if;

  if p_message <= v_participant.last_read_message_id then
    return jsonb_build_object(
      'changed', false,
      'conversationId', p_conversation,
      'userId', p_user,
      'lastReadMessageId', v_participant.last_read_message_id,
      'unread', v_participant.unread_count,
      'totalUnread', private.total_unread(p_user),
      'events', '[]'::jsonb
    );
  end if;

  select count(*) into v_unread from public.messages m
  where m.conversation_id = p_conversation and m.id > p_message and m.sender_id <> p_user;
  update public.conversation_participants
  set last_read_message_id = p_message, unread_count = v_unread
  where conversation_id = p_conversation and user_id = p_user;
  update public.message_notifications
  set status = 'read'
  where recipient_id = p_user and conversation_id = p_conversation
    and message_id <= p_message and status = 'pending';
  v_total := private.total_unread(p_user);

  v_events := v_events || public.outbox_enqueue(
    'private-conversation-' || p_conversation,
    'read-receipt',
    jsonb_build_object(
      'conversationId', p_conversation,
      'userId', p_user,
      'lastReadMessageId', p_message,
      'readAt', v_at
    )
  );
  v_channel := private.user_channel(p_user);
  if v_channel is not null then
    v_events := v_events || public.outbox_enqueue(
      v_channel,
      'unread-update',
      jsonb_build_object(
        'conversationId', p_conversation, 'unread', v_unread, 'totalUnread', v_total
      )
    );
  end if;
  return jsonb_build_object(
    'changed', true,
    'conversationId', p_conversation,
    'userId', p_user,
    'lastReadMessageId', p_message,
    'unread', v_unread,
    'totalUnread', v_total,
    'events', public.outbox_rows(v_events)
  );
end
$$;

-- The caller's conversations, most recent activity first; p_before_at/p_before_id continue
-- after the last one of the previous page. {"conversations": [...], "more": bool}
create or replace function public.messaging_conversations(
  p_user text, p_limit integer, p_before_at timestamptz, p_before_id uuid
)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_ids uuid[];
begin
  if p_limit is null or p_limit not between 1 and 200 then
    raise exception 'limit must be between 1 and 200' using errcode = '22023';
  end if;
  select coalesce(array_agg(page.id order by page.last_activity_at desc, page.id desc), '{}')
  into v_ids
  from (
    select c.id, c.last_activity_at
    from public.conversation_participants p
    join public.conversations c on c.id = p.conversation_id
    where p.user_id = p_user
      and (
        p_before_at is null
        or (c.last_activity_at, c.id) < (p_before_at, coalesce(p_before_id, c.id))
      )
    order by c.last_activity_at desc, c.id desc
    limit p_limit + 1
  ) page;
  return jsonb_build_object(
    'conversations', (
      select coalesce(jsonb_agg(private.conversation_json(i.id, p_user) order by i.n), '[]')
      from unnest(v_ids[1:p_limit]) with ordinality as i (id, n)
    ),
    'more', cardinality(v_ids) > p_limit
  );
end
$$;

-- Messages of one conversation, oldest first: after p_after (a delta), else the p_limit before
-- p_before (a page back), else the latest p_limit. {"conversationId", "messages", "more",
-- "participants": [{"userId", "lastReadMessageId"}]}; `more`: there is more in that direction.
create or replace function public.messaging_messages(
  p_user text, p_conversation uuid, p_after bigint, p_before bigint, p_limit integer
)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_ids bigint[];
begin
  if p_limit is null or p_limit not between 1 and 200 then
    raise exception 'limit must be between 1 and 200' using errcode = '22023';
  end if;
  if p_after is not null and p_before is not null then
    raise exception 'give after or before, not both' using errcode = '22023';
  end if;
  if not private.is_conversation_participant(p_conversation, p_user) then
    raise exception 'conversation not found' using errcode = 'P0002';
  end if;
  -- v_ids runs away from the cursor: ascending after p_after, descending otherwise
  if p_after is not null then
    select coalesce(array_agg(page.id order by page.id), '{}') into v_ids
    from (
      select m.id from public.messages m
      where m.conversation_id = p_conversation and m.id > p_after
      order by m.id
      limit p_limit + 1
    ) page;
  else
    select coalesce(array_agg(page.id order by page.id desc), '{}') into v_ids
    from (
      select m.id from public.messages m
      where m.conversation_id = p_conversation and (p_before is null or m.id < p_before)
      order by m.id desc
      limit p_limit + 1
    ) page;
  end if;
  return jsonb_build_object(
    'conversationId', p_conversation,
    'messages', (
      select coalesce(jsonb_agg(private.message_json(m) order by m.id), '[]'::jsonb)
      from public.messages m
      where m.id = any(v_ids[1:p_limit])
    ),
    'more', cardinality(v_ids) > p_limit,
    'participants', (
      select coalesce(jsonb_agg(jsonb_build_object(
        'userId', p.user_id, 'lastReadMessageId', p.last_read_message_id
      ) order by p.joined_at, p.user_id), '[]'::jsonb)
      from public.conversation_participants p
      where p.conversation_id = p_conversation
    )
  );
end
$$;

revoke execute on function public.messaging_create_conversation(text, text[], text, text)
  from public, anon, authenticated;
revoke execute on function public.messaging_send(text, uuid, text, text)
  from public, anon, authenticated;
revoke execute on function public.messaging_mark_read(text, uuid, bigint)
  from public, anon, authenticated;
revoke execute on function public.messaging_conversations(text, integer, timestamptz, uuid)
  from public, anon, authenticated;
revoke execute on function public.messaging_messages(text, uuid, bigint, bigint, integer)
  from public, anon, authenticated;

grant execute on function public.messaging_create_conversation(text, text[], text, text)
  to service_role;
grant execute on function public.messaging_send(text, uuid, text, text) to service_role;
grant execute on function public.messaging_mark_read(text, uuid, bigint) to service_role;
grant execute on function public.messaging_conversations(text, integer, timestamptz, uuid)
  to service_role;
grant execute on function public.messaging_messages(text, uuid, bigint, bigint, integer)
  to service_role;
