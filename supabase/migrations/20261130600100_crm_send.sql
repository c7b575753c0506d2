-- CRM: sending from the app (crm.sendMessage) with optimistic UI, reconciled by messageId.
--
--   crm_messages.sent_by  the app user who sent a message from the app (null otherwise)
--   crm_messages.error    why a send failed (status 'failed')
--
-- A send is two commands around the HighLevel API call (lib/features/crm/sending.py):
--   crm_send_begin(user, conversation, client_id, body, type)
--       members of the conversation's location only (PT403; an unknown conversation PT404).
--       Stores the message `sending` with the client's id, or finds the one stored under that
--       (conversation, clientId): a retry. Answers {message, send, contactId, locationId,
--       ghlUserId}: `send` is false for a retry of a message already sending, pending or
--       delivered (no second API call), true for a new one and for a retry of a failed one.
--   crm_send_finish(message, ghl_message_id, error)
--       error: the message is `failed` (with the reason) and its sender gets
--       `message-failed` {id, clientId, conversationId, reason} on private-user-{sender}.
--       Else it is `pending` under HighLevel's messageId, and nothing is published: the
--       OutboundMessage webhook (crm_on_message) reconciles it — its `new-message` carries the
--       clientId, to the assignee and to the sender. If that webhook was processed first (it
--       raced the API's answer), the message it stored takes over the clientId (our row goes)
--       and the sender gets that `new-message` now, with the clientId.
--   Both lock the conversation row first, as crm_on_message does, so a webhook and a finish
--   of the same message never interleave.
--
-- crm_on_message (20261130500300) is redefined: a reconciled message also goes to its sender.

alter table public.crm_messages
  add column sent_by text check (sent_by ~ '^[-a-zA-Z0-9_=@,.;]{1,128}$'),
  add column error text check (char_length(error) <= 500);

create or replace function public.crm_on_message(p_event jsonb)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_data jsonb := coalesce(p_event -> 'data', '{}'::jsonb);
  v_location text := private.crm_location(p_event ->> 'locationId');
  v_conversation_id text := left(nullif(v_data ->> 'conversationId', ''), 128);
  v_ghl_id text := left(nullif(v_data ->> 'messageId', ''), 128);
  v_direction text := case
    when lower(coalesce(v_data ->> 'direction', '')) in ('inbound', 'outbound')
      then lower(v_data ->> 'direction')
    when p_event ->> 'type' = 'InboundMessage' then 'inbound'
    else 'outbound' end;
  v_type text := left(coalesce(nullif(v_data ->> 'messageType', ''), 'SMS'), 64);
  v_body text := left(coalesce(v_data ->> 'body', ''), 65536);
  v_status text := left(coalesce(nullif(v_data ->> 'status', ''), 'received'), 32);
  v_at timestamptz := coalesce(private.crm_timestamp(v_data ->> 'dateAdded', 'UTC'), now());
  v_contact public.crm_contacts;
  v_message public.crm_messages;
  v_conversation public.crm_conversations;
  v_was text;
  v_new boolean;
  v_assignee text;
  v_items jsonb := '[]'::jsonb;
  v_payload jsonb;
begin
  if v_conversation_id is null then
    raise exception 'a message event needs a conversationId' using errcode = '22023';
  end if;
  v_contact := private.crm_contact(v_location, v_data ->> 'contactId');
  if v_direction = 'inbound' and v_contact.id is not null and v_contact.phone is null
      and v_type = 'SMS' and nullif(v_data ->> 'from', '') is not null then
    update public.crm_contacts set phone = left(v_data ->> 'from', 64)
      where id = v_contact.id returning * into v_contact;
  end if;
  insert into public.crm_conversations (id, location_id, contact_id)
    values (v_conversation_id, v_location, v_contact.id)
    on conflict (id) do nothing;
  -- one writer per conversation: the unread count and "last message" stay consistent
  select * into v_conversation from public.crm_conversations
    where id = v_conversation_id for update;

  if v_ghl_id is not null then
    select status into v_was from public.crm_messages where ghl_message_id = v_ghl_id for update;
  end if;
  v_new := v_was is null or v_was = 'pending';
  if v_was is null then
    insert into public.crm_messages (
      ghl_message_id, conversation_id, location_id, contact_id, direction, type, body, status,
      ghl_user_id, sent_at
    ) values (
      v_ghl_id, v_conversation_id, v_location, v_contact.id, v_direction, v_type, v_body,
      v_status, left(nullif(v_data ->> 'userId', ''), 128), v_at
    ) returning * into v_message;
  else
    update public.crm_messages set
      status = v_status,
      body = case when v_body = '' then body else v_body end,
      updated_at = now()
    where ghl_message_id = v_ghl_id
    returning * into v_message;
  end if;
  if not v_new then
    return jsonb_build_object('message', v_message.id, 'duplicate', true)
      || private.crm_emit('[]'::jsonb);
  end if;

  update public.crm_conversations set
    contact_id = coalesce(contact_id, v_contact.id),
    unread_count = unread_count + case when v_direction = 'inbound' then 1 else 0 end,
    last_message_at = greatest(last_message_at, v_at),
    last_message_type = case when last_message_at > v_at then last_message_type else v_type end,
    last_message_preview = case when last_message_at > v_at then last_message_preview
      else left(v_body, 50) end,
    updated_at = now()
  where id = v_conversation_id
  returning * into v_conversation;

  v_assignee := private.crm_assignee(p_event ->> 'assignee', v_contact.id);
  v_payload := jsonb_build_object(
      'message', private.crm_message_json(v_message),
      'contact', jsonb_build_object(
        'id', v_contact.id,
        'name', coalesce(private.crm_contact_name(v_contact), ''),
        'phone', v_contact.phone
      ),
      'conversation', jsonb_build_object(
        'id', v_conversation.id, 'unreadCount', v_conversation.unread_count
      )
    );
  v_items := private.crm_to_user(v_assignee, 'new-message', v_payload)
    -- the app user who sent it from the app hears of it too, once (their bubble's clientId)
    || case when v_message.sent_by is distinct from v_assignee
         then private.crm_to_user(v_message.sent_by, 'new-message', v_payload)
         else '[]'::jsonb end
    || private.crm_to_location(v_location, 'location-message', jsonb_build_object(
      'type', v_type,
      'contactName', coalesce(private.crm_contact_name(v_contact), ''),
      'preview', left(v_body, 50)
    ));
  return jsonb_build_object('message', v_message.id) || private.crm_emit(v_items);
end
$$;


create or replace function public.crm_send_begin(
  p_user text, p_conversation text, p_client_id text, p_body text, p_type text
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_conversation public.crm_conversations;
  v_message public.crm_messages;
  v_send boolean := true;
begin
  select * into v_conversation from public.crm_conversations where id = p_conversation
    for update;
  if v_conversation.id is null then
    raise exception 'no conversation %', left(p_conversation, 128) using errcode = 'PT404';
  end if;
  perform private.crm_require_member(v_conversation.location_id, p_user);
  if v_conversation.contact_id is null then
    raise exception 'conversation % has no contact to send to', left(p_conversation, 128)
      using errcode = 'PT422';
  end if;
  select * into v_message from public.crm_messages
    where conversation_id = p_conversation and client_id = p_client_id
    for update;
  if v_message.id is null then
    insert into public.crm_messages (
      client_id, conversation_id, location_id, contact_id, direction, type, body, status,
      ghl_user_id, sent_by
    ) values (
      p_client_id, p_conversation, v_conversation.location_id, v_conversation.contact_id,
      'outbound', p_type, p_body, 'sending', private.crm_ghl_user(p_user), p_user
    ) returning * into v_message;
  elsif v_message.status = 'failed' and v_message.sent_by = p_user then
    update public.crm_messages
      set status = 'sending', body = p_body, type = p_type, error = null, updated_at = now()
      where id = v_message.id
      returning * into v_message;
  else
    v_send := false;
  end if;
  return jsonb_build_object(
    'message', private.crm_message_json(v_message) || jsonb_build_object('error', v_message.error),
    'send', v_send,
    'contactId', v_message.contact_id,
    'locationId', v_message.location_id,
    'ghlUserId', v_message.ghl_user_id
  );
end
$$;

create or replace function public.crm_send_finish(
  p_message bigint, p_ghl_message_id text, p_error text
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_message public.crm_messages;
  v_webhook public.crm_messages;
  v_conversation public.crm_conversations;
  v_contact public.crm_contacts;
begin
  select * into v_message from public.crm_messages where id = p_message;
  if v_message.id is null then
    raise exception 'no message %', p_message using errcode = 'PT404';
  end if;
  select * into v_conversation from public.crm_conversations
    where id = v_message.conversation_id for update;
  select * into v_message from public.crm_messages where id = p_message for update;
  if v_message.status <> 'sending' then  -- finished already (a duplicate call)
    return jsonb_build_object('message',
      private.crm_message_json(v_message) || jsonb_build_object('error', v_message.error));
  end if;

  if p_error is not null or p_ghl_message_id is null then
    update public.crm_messages
      set status = 'failed', error = left(coalesce(p_error, 'no messageId'), 500),
          updated_at = now()
      where id = p_message
      returning * into v_message;
    return jsonb_build_object('message',
        private.crm_message_json(v_message) || jsonb_build_object('error', v_message.error))
      || private.crm_emit(private.crm_to_user(v_message.sent_by, 'message-failed',
        jsonb_build_object(
          'id', v_message.id,
          'clientId', v_message.client_id,
          'conversationId', v_message.conversation_id,
          'reason', v_message.error
        )), 0);
  end if;

  select * into v_webhook from public.crm_messages
    where ghl_message_id = left(p_ghl_message_id, 128) for update;
  if v_webhook.id is null then
    update public.crm_messages
      set status = 'pending', ghl_message_id = left(p_ghl_message_id, 128), updated_at = now()
      where id = p_message
      returning * into v_message;
    return jsonb_build_object('message',
      private.crm_message_json(v_message) || jsonb_build_object('error', null));
  end if;

  -- The OutboundMessage webhook came first: its row is the message; it takes our clientId.
  delete from public.crm_messages where id = p_message;
  update public.crm_messages
    set client_id = v_message.client_id, sent_by = v_message.sent_by, updated_at = now()
    where id = v_webhook.id
    returning * into v_webhook;
  select * into v_contact from public.crm_contacts where id = v_webhook.contact_id;
  return jsonb_build_object('message',
      private.crm_message_json(v_webhook) || jsonb_build_object('error', null),
      'reconciled', true)
    || private.crm_emit(private.crm_to_user(v_webhook.sent_by, 'new-message',
      jsonb_build_object(
        'message', private.crm_message_json(v_webhook),
        'contact', jsonb_build_object(
          'id', v_contact.id,
          'name', coalesce(private.crm_contact_name(v_contact), ''),
          'phone', v_contact.phone
        ),
        'conversation', jsonb_build_object(
          'id', v_conversation.id, 'unreadCount', v_conversation.unread_count
        )
      )), 0);
end
$$;

revoke execute on function public.crm_send_begin(text, text, text, text, text)
  from public, anon, authenticated;
revoke execute on function public.crm_send_finish(bigint, text, text)
  from public, anon, authenticated;
grant execute on function public.crm_send_begin(text, text, text, text, text) to service_role;
grant execute on function public.crm_send_finish(bigint, text, text) to service_role;
