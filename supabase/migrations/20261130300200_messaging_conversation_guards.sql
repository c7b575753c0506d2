-- Conversations only with real users, and not too many a day (issue 10): a conversation made
-- someone an SMS/email recipient, so any id could be spammed, even one nobody has.
--
--   messaging_create_conversation  replaced; takes p_daily_limit. In order:
--     a retry (same creator and client id) returns the conversation it created, as before;
--     every other participant must have a `profiles` row, else PT422 naming the unknown ids;
--     the creator makes at most p_daily_limit conversations in 24 hours, else PT429 (DETAIL =
--     seconds until the oldest leaves the window), counted under a per-creator advisory lock.
--   The 4-argument form is dropped.

create index conversations_created_by_created_at_idx
  on public.conversations (created_by, created_at);

drop function public.messaging_create_conversation(text, text[], text, text);

create function public.messaging_create_conversation(
  p_user text, p_participants text[], p_title text, p_client_id text,
  p_daily_limit integer default 100
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_members text[];
  v_unknown text[];
  v_conversation public.conversations;
  v_member text;
  v_events bigint[] := '{}';
  v_data jsonb;
  v_count integer;
  v_oldest timestamptz;
begin
  if p_daily_limit is null or p_daily_limit < 0 then
    raise exception 'the daily conversation limit is 0 or more' using errcode = '22023';
  end if;
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

  if p_client_id is not null then
    select * into v_conversation from public.conversations c
      where c.created_by = p_user and c.client_id = p_client_id;
    if found then
      return jsonb_build_object(
        'duplicate', true,
        'conversation', private.conversation_json(v_conversation.id, p_user),
        'events', '[]'::jsonb
      );
    end if;
  end if;

  select array_agg(m order by m) into v_unknown
  from unnest(v_members) as m
  where m <> p_user and not exists (select 1 from public.profiles p where p.id = m);
  if v_unknown is not null then
    raise exception 'no such users: %', left(array_to_string(v_unknown, ', '), 1000)
      using errcode = 'PT422';
  end if;

  perform pg_advisory_xact_lock(hashtextextended('conversations-created:' || p_user, 0));
  select count(*), min(c.created_at) into v_count, v_oldest
    from public.conversations c
    where c.created_by = p_user and c.created_at > now() - interval '24 hours';
  if v_count >= p_daily_limit then
    raise exception 'daily conversation limit reached: at most % new conversations per 24 hours',
      p_daily_limit
      using errcode = 'PT429',
        detail = greatest(1, ceil(extract(epoch from
          coalesce(v_oldest, now()) + interval '24 hours' - clock_timestamp()
        )))::integer::text;
  end if;

  insert into public.conversations (title, created_by, client_id)
  values (coalesce(p_title, ''), p_user, p_client_id)
  on conflict (created_by, client_id) where client_id is not null do nothing
  returning * into v_conversation;
  if v_conversation.id is null then  -- a concurrent retry with this client id came first
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

revoke execute on function public.messaging_create_conversation(text, text[], text, text, integer)
  from public, anon, authenticated;
grant execute on function public.messaging_create_conversation(text, text[], text, text, integer)
  to service_role;
