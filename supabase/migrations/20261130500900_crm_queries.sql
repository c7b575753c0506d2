-- CRM queries for the app (lib/features/crm/queries.py): service role only, each takes the
-- caller's user id and refuses a location the caller is not a member of (PT403 -> FORBIDDEN).
--
--   crm_feed(user, location, since, limit)            location activity after id `since`,
--                                                     oldest first; next = the cursor to pass
--   crm_conversations(user, location, limit, offset)  latest first, with unread counts
--   crm_messages(user, conversation, since, limit)    messages after id `since`, oldest first
--   crm_revenue_today(user, location)                 today's payments in the location's zone
--   crm_pipeline(user, location, limit, offset)       open/won/lost per pipeline stage, and
--                                                     the opportunities, latest first
--   crm_appointments(user, from, to, location, ...)   by start; without a location: the
--                                                     caller's own (assigned to their HighLevel
--                                                     user) in their locations
--   crm_tasks(user, status, location, limit, offset)  by due date; same "own" rule
-- Paged lists return {<items>, next}: next is the offset (or cursor) of the next page, or null.

create or replace function private.crm_require_member(p_location text, p_user text)
returns void
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  if not private.is_location_member(p_location, p_user) then
    raise exception 'not a member of location %', left(p_location, 128) using errcode = 'PT403';
  end if;
end
$$;

create or replace function public.crm_feed(
  p_user text, p_location text, p_since bigint, p_limit integer
)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_items jsonb;
  v_count integer;
begin
  perform private.crm_require_member(p_location, p_user);
  select coalesce(jsonb_agg(jsonb_build_object(
           'id', a.id, 'event', a.event, 'data', a.data, 'eventId', a.outbox_id,
           'at', a.created_at
         ) order by a.id), '[]'::jsonb), count(*)
    into v_items, v_count
    from (
      select * from public.crm_activity
      where location_id = p_location and id > coalesce(p_since, 0)
      order by id limit p_limit + 1
    ) a;
  if v_count > p_limit then
    v_items := v_items - p_limit;
  end if;
  return jsonb_build_object(
    'items', v_items,
    'next', case when v_count > p_limit then v_items -> (p_limit - 1) -> 'id' end
  );
end
$$;

create or replace function public.crm_conversations(
  p_user text, p_location text, p_limit integer, p_offset integer
)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_items jsonb;
  v_count integer;
begin
  perform private.crm_require_member(p_location, p_user);
  select coalesce(jsonb_agg(jsonb_build_object(
           'id', c.id,
           'contact', jsonb_build_object('id', c.contact_id, 'name', coalesce(c.contact_name, '')),
           'unreadCount', c.unread_count,
           'lastMessageAt', c.last_message_at,
           'lastMessageType', c.last_message_type,
           'lastMessagePreview', c.last_message_preview
         ) order by c.n), '[]'::jsonb), count(*)
    into v_items, v_count
    from (
      select cv.*, private.crm_contact_name(k) as contact_name,
             row_number() over (order by cv.last_message_at desc nulls last, cv.id) as n
      from public.crm_conversations cv
      left join public.crm_contacts k on k.id = cv.contact_id
      where cv.location_id = p_location
      order by cv.last_message_at desc nulls last, cv.id
      offset p_offset limit p_limit + 1
    ) c;
  if v_count > p_limit then
    v_items := v_items - p_limit;
  end if;
  return jsonb_build_object(
    'conversations', v_items,
    'totalUnread', (select coalesce(sum(unread_count), 0) from public.crm_conversations
                    where location_id = p_location),
    'next', case when v_count > p_limit then p_offset + p_limit end
  );
end
$$;

create or replace function public.crm_messages(
  p_user text, p_conversation text, p_since bigint, p_limit integer
)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_location text;
  v_items jsonb;
  v_count integer;
begin
  select location_id into v_location from public.crm_conversations where id = p_conversation;
  if v_location is null then
    raise exception 'no conversation %', left(p_conversation, 128) using errcode = 'PT404';
  end if;
  perform private.crm_require_member(v_location, p_user);
  select coalesce(jsonb_agg(private.crm_message_json(m) order by m.id), '[]'::jsonb), count(*)
    into v_items, v_count
    from (
      select * from public.crm_messages
      where conversation_id = p_conversation and id > coalesce(p_since, 0)
      order by id limit p_limit + 1
    ) m;
  if v_count > p_limit then
    v_items := v_items - p_limit;
  end if;
  return jsonb_build_object(
    'messages', v_items,
    'next', case when v_count > p_limit then v_items -> (p_limit - 1) -> 'id' end
  );
end
$$;

create or replace function public.crm_revenue_today(p_user text, p_location text)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  perform private.crm_require_member(p_location, p_user);
  return private.crm_revenue_today(p_location);
end
$$;

create or replace function public.crm_pipeline(
  p_user text, p_location text, p_limit integer, p_offset integer
)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_items jsonb;
  v_count integer;
begin
  perform private.crm_require_member(p_location, p_user);
  select coalesce(jsonb_agg(jsonb_build_object(
           'id', o.id, 'name', o.name, 'status', o.status, 'value', o.monetary_value,
           'pipelineId', o.pipeline_id, 'stageId', o.stage_id, 'contactId', o.contact_id,
           'assignedTo', o.assigned_to, 'updatedAt', o.updated_at
         ) order by o.n), '[]'::jsonb), count(*)
    into v_items, v_count
    from (
      select op.*, row_number() over (order by op.updated_at desc, op.id) as n
      from public.crm_opportunities op
      where op.location_id = p_location and op.deleted_at is null
      order by op.updated_at desc, op.id
      offset p_offset limit p_limit + 1
    ) o;
  if v_count > p_limit then
    v_items := v_items - p_limit;
  end if;
  return jsonb_build_object(
    'stages', (
      select coalesce(jsonb_agg(jsonb_build_object(
               'pipelineId', s.pipeline_id, 'stageId', s.stage_id, 'open', s.open,
               'won', s.won, 'lost', s.lost, 'openValue', s.open_value
             ) order by s.pipeline_id nulls first, s.stage_id nulls first), '[]'::jsonb)
      from (
        select pipeline_id, stage_id,
               count(*) filter (where status = 'open') as open,
               count(*) filter (where status = 'won') as won,
               count(*) filter (where status in ('lost', 'abandoned')) as lost,
               coalesce(sum(monetary_value) filter (where status = 'open'), 0) as open_value
        from public.crm_opportunities
        where location_id = p_location and deleted_at is null
        group by pipeline_id, stage_id
      ) s
    ),
    'opportunities', v_items,
    'next', case when v_count > p_limit then p_offset + p_limit end
  );
end
$$;

create or replace function public.crm_appointments(
  p_user text, p_from timestamptz, p_to timestamptz, p_location text, p_limit integer,
  p_offset integer
)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_ghl text := private.crm_ghl_user(p_user);
  v_items jsonb;
  v_count integer;
begin
  if p_location is not null then
    perform private.crm_require_member(p_location, p_user);
  end if;
  select coalesce(jsonb_agg(jsonb_build_object(
           'id', a.id, 'locationId', a.location_id, 'title', a.title, 'status', a.status,
           'startTime', a.starts_at, 'endTime', a.ends_at, 'assignedTo', a.assigned_to,
           'contact', jsonb_build_object('id', a.contact_id, 'name', coalesce(a.contact_name, ''))
         ) order by a.n), '[]'::jsonb), count(*)
    into v_items, v_count
    from (
      select ap.*, private.crm_contact_name(k) as contact_name,
             row_number() over (order by ap.starts_at, ap.id) as n
      from public.crm_appointments ap
      left join public.crm_contacts k on k.id = ap.contact_id
      where ap.deleted_at is null
        and ap.starts_at >= p_from and ap.starts_at < p_to
        and case when p_location is not null then ap.location_id = p_location
          else ap.assigned_to = v_ghl and private.is_location_member(ap.location_id, p_user) end
      order by ap.starts_at, ap.id
      offset p_offset limit p_limit + 1
    ) a;
  if v_count > p_limit then
    v_items := v_items - p_limit;
  end if;
  return jsonb_build_object(
    'appointments', v_items,
    'next', case when v_count > p_limit then p_offset + p_limit end
  );
end
$$;

create or replace function public.crm_tasks(
  p_user text, p_status text, p_location text, p_limit integer, p_offset integer
)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_ghl text := private.crm_ghl_user(p_user);
  v_items jsonb;
  v_count integer;
begin
  if p_location is not null then
    perform private.crm_require_member(p_location, p_user);
  end if;
  select coalesce(jsonb_agg(jsonb_build_object(
           'id', t.id, 'locationId', t.location_id, 'title', t.title, 'dueDate', t.due_at,
           'completed', t.completed, 'assignedTo', t.assigned_to,
           'contact', jsonb_build_object('id', t.contact_id, 'name', coalesce(t.contact_name, ''))
         ) order by t.n), '[]'::jsonb), count(*)
    into v_items, v_count
    from (
      select tk.*, private.crm_contact_name(k) as contact_name,
             row_number() over (order by tk.due_at nulls last, tk.id) as n
      from public.crm_tasks tk
      left join public.crm_contacts k on k.id = tk.contact_id
      where tk.deleted_at is null
        and (p_status = 'all' or tk.completed = (p_status = 'completed'))
        and case when p_location is not null then tk.location_id = p_location
          else tk.assigned_to = v_ghl and private.is_location_member(tk.location_id, p_user) end
      order by tk.due_at nulls last, tk.id
      offset p_offset limit p_limit + 1
    ) t;
  if v_count > p_limit then
    v_items := v_items - p_limit;
  end if;
  return jsonb_build_object(
    'tasks', v_items,
    'next', case when v_count > p_limit then p_offset + p_limit end
  );
end
$$;

revoke execute on function private.crm_require_member(text, text) from public, anon, authenticated;
revoke execute on function public.crm_feed(text, text, bigint, integer)
  from public, anon, authenticated;
revoke execute on function public.crm_conversations(text, text, integer, integer)
  from public, anon, authenticated;
revoke execute on function public.crm_messages(text, text, bigint, integer)
  from public, anon, authenticated;
revoke execute on function public.crm_revenue_today(text, text) from public, anon, authenticated;
revoke execute on function public.crm_pipeline(text, text, integer, integer)
  from public, anon, authenticated;
revoke execute on function public.crm_appointments(text, timestamptz, timestamptz, text, integer, integer)
  from public, anon, authenticated;
revoke execute on function public.crm_tasks(text, text, text, integer, integer)
  from public, anon, authenticated;
grant execute on function private.crm_require_member(text, text) to service_role;
grant execute on function public.crm_feed(text, text, bigint, integer) to service_role;
grant execute on function public.crm_conversations(text, text, integer, integer) to service_role;
grant execute on function public.crm_messages(text, text, bigint, integer) to service_role;
grant execute on function public.crm_revenue_today(text, text) to service_role;
grant execute on function public.crm_pipeline(text, text, integer, integer) to service_role;
grant execute on function public.crm_appointments(text, timestamptz, timestamptz, text, integer, integer)
  to service_role;
grant execute on function public.crm_tasks(text, text, text, integer, integer) to service_role;
