-- CRM conversations and messages (HighLevel InboundMessage, OutboundMessage,
-- ConversationUnreadUpdate).
--
--   crm_conversations  one per HighLevel conversation: its contact, unread count (inbound
--                      messages add one; ConversationUnreadUpdate sets HighLevel's count), the
--                      last message's time, type and 50-character preview
--   crm_messages       id is our cursor (crm.messages({conversationId, since})).
--                      ghl_message_id is HighLevel's messageId (unique): a redelivered message
--                      finds its row. client_id + status are for sending from the app: a send
--                      stores a `pending` row with the client's id and HighLevel's messageId,
--                      and the OutboundMessage webhook reconciles it by messageId, so the
--                      `new-message` event carries the clientId (the sender replaces its
--                      temporary bubble).
--
-- Processors:
--   crm_on_message        a new (or reconciled pending) message -> the assignee (the message's
--                         userId, else the contact's assigned user): `new-message`
--                         {message, contact{id, name, phone}, conversation{id, unreadCount}};
--                         the location: `location-message` {type, contactName, preview}
--                         (50 characters, never the body). A redelivery of a message already
--                         stored publishes nothing.
--   crm_on_unread_update  the assignee: `unread-update` {conversationId, unreadCount,
--                         totalUnread (their location's conversations)}

create table public.crm_conversations (
  id text primary key check (char_length(id) between 1 and 128),
  location_id text not null references public.locations (id) on delete cascade,
  contact_id text check (char_length(contact_id) <= 128),
  unread_count integer not null default 0 check (unread_count >= 0),
  last_message_at timestamptz,
  last_message_type text check (char_length(last_message_type) <= 64),
  last_message_preview text check (char_length(last_message_preview) <= 50),
  updated_at timestamptz not null default now()
);

create index crm_conversations_location_id_idx
  on public.crm_conversations (location_id, last_message_at desc);

create table public.crm_messages (
  id bigint generated always as identity primary key,
  ghl_message_id text unique check (char_length(ghl_message_id) between 1 and 128),
  client_id text check (char_length(client_id) between 1 and 64),
  conversation_id text not null references public.crm_conversations (id) on delete cascade,
  location_id text not null references public.locations (id) on delete cascade,
  contact_id text check (char_length(contact_id) <= 128),
  direction text not null check (direction in ('inbound', 'outbound')),
  type text not null default 'SMS' check (char_length(type) between 1 and 64),
  body text not null default '' check (char_length(body) <= 65536),
  status text not null default 'received' check (char_length(status) between 1 and 32),
  ghl_user_id text check (char_length(ghl_user_id) <= 128),
  sent_at timestamptz not null default now(),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create index crm_messages_conversation_id_id_idx on public.crm_messages (conversation_id, id);
create unique index crm_messages_conversation_id_client_id_key
  on public.crm_messages (conversation_id, client_id) where client_id is not null;

alter table public.crm_conversations enable row level security;
alter table public.crm_messages enable row level security;

create policy "crm_conversations: members read their locations' conversations"
  on public.crm_conversations for select to authenticated
  using (private.is_location_member(location_id, (select auth.jwt() ->> 'sub')));

create policy "crm_messages: members read their locations' messages"
  on public.crm_messages for select to authenticated
  using (private.is_location_member(location_id, (select auth.jwt() ->> 'sub')));

revoke all on public.crm_conversations, public.crm_messages from anon, authenticated;
grant select on public.crm_conversations, public.crm_messages to authenticated;
grant select, insert, update, delete on public.crm_conversations, public.crm_messages
  to service_role;

create or replace function private.crm_message_json(p_message public.crm_messages)
returns jsonb
language sql
immutable
set search_path = ''
as $$
  select jsonb_build_object(
    'id', p_message.id,
    'ghlMessageId', p_message.ghl_message_id,
    'clientId', p_message.client_id,
    'conversationId', p_message.conversation_id,
    'direction', p_message.direction,
    'type', p_message.type,
    'body', p_message.body,
    'status', p_message.status,
    'at', to_char(p_message.sent_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
  )
$$;

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
  v_items := private.crm_to_user(v_assignee, 'new-message', jsonb_build_object(
      'message', private.crm_message_json(v_message),
      'contact', jsonb_build_object(
        'id', v_contact.id,
        'name', coalesce(private.crm_contact_name(v_contact), ''),
        'phone', v_contact.phone
      ),
      'conversation', jsonb_build_object(
        'id', v_conversation.id, 'unreadCount', v_conversation.unread_count
      )
    ))
    || private.crm_to_location(v_location, 'location-message', jsonb_build_object(
      'type', v_type,
      'contactName', coalesce(private.crm_contact_name(v_contact), ''),
      'preview', left(v_body, 50)
    ));
  return jsonb_build_object('message', v_message.id) || private.crm_emit(v_items);
end
$$;

create or replace function public.crm_on_unread_update(p_event jsonb)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_data jsonb := coalesce(p_event -> 'data', '{}'::jsonb);
  v_location text := private.crm_location(p_event ->> 'locationId');
  v_id text := left(nullif(coalesce(v_data ->> 'id', v_data ->> 'conversationId'), ''), 128);
  v_count integer := greatest(coalesce((v_data ->> 'unreadCount')::integer, 0), 0);
  v_contact public.crm_contacts;
  v_ghl text;
  v_total integer;
begin
  if v_id is null then
    raise exception 'a ConversationUnreadUpdate needs the conversation id' using errcode = '22023';
  end if;
  v_contact := private.crm_contact(v_location, v_data ->> 'contactId');
  insert into public.crm_conversations (id, location_id, contact_id, unread_count)
    values (v_id, v_location, v_contact.id, v_count)
    on conflict (id) do update
      set unread_count = excluded.unread_count,
          contact_id = coalesce(public.crm_conversations.contact_id, excluded.contact_id),
          updated_at = now();
  v_ghl := coalesce(nullif(p_event ->> 'assignee', ''), v_contact.assigned_to);
  select coalesce(sum(c.unread_count), 0) into v_total
    from public.crm_conversations c
    join public.crm_contacts k on k.id = c.contact_id
    where c.location_id = v_location and k.assigned_to = v_ghl;
  return jsonb_build_object('conversation', v_id) || private.crm_emit(
    private.crm_to_user(private.crm_app_user(v_ghl), 'unread-update', jsonb_build_object(
      'conversationId', v_id,
      'locationId', v_location,
      'unreadCount', v_count,
      'totalUnread', v_total
    ))
  );
end
$$;

revoke execute on function private.crm_message_json(public.crm_messages)
  from public, anon, authenticated;
revoke execute on function public.crm_on_message(jsonb) from public, anon, authenticated;
revoke execute on function public.crm_on_unread_update(jsonb) from public, anon, authenticated;
grant execute on function private.crm_message_json(public.crm_messages) to service_role;
grant execute on function public.crm_on_message(jsonb) to service_role;
grant execute on function public.crm_on_unread_update(jsonb) to service_role;
