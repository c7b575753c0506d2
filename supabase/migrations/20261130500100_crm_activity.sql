-- CRM activity feed and the one way CRM processors queue events.
--
--   crm_activity   every event published on a location's channel, kept per location: what
--                  crm.feed({locationId, since}) pages through (id is the cursor; ids of one
--                  location commit in order because outbox_enqueue serialises the channel).
--
--   private.crm_to_user(app user, event, data)      an item for private-user-{app user}
--                                                   ([] when there is nobody to tell)
--   private.crm_to_location(location, event, data)  an item for private-location-{location},
--                                                   recorded in crm_activity too
--   private.crm_emit(items, reminders = 20)         claims the appointment reminders that are
--                                                   due (at most `reminders`; 20261130500600),
--                                                   then queues every item sorted by channel
--                                                   (a stable lock order: no deadlock between
--                                                   concurrent deliveries) and returns
--                                                   {"events": outbox rows, "reminders": n}
-- Every CRM processor ends with `return <its result> || private.crm_emit(items)`, so every
-- processed HighLevel delivery also fires the reminders that fell due, in its transaction.

create table public.crm_activity (
  id bigint generated always as identity primary key,
  location_id text not null references public.locations (id) on delete cascade,
  event text not null check (char_length(event) between 1 and 200),
  data jsonb not null default '{}'::jsonb,
  outbox_id bigint,
  created_at timestamptz not null default now()
);

create index crm_activity_location_id_id_idx on public.crm_activity (location_id, id);

alter table public.crm_activity enable row level security;

create policy "crm_activity: members read their locations' feed"
  on public.crm_activity for select to authenticated
  using (private.is_location_member(location_id, (select auth.jwt() ->> 'sub')));

revoke all on public.crm_activity from anon, authenticated;
grant select on public.crm_activity to authenticated;
grant select, insert, update, delete on public.crm_activity to service_role;

create or replace function private.crm_to_user(p_app_user text, p_event text, p_data jsonb)
returns jsonb
language sql
immutable
set search_path = ''
as $$
  select case when p_app_user is null then '[]'::jsonb else jsonb_build_array(
    jsonb_build_object('channel', 'private-user-' || p_app_user, 'event', p_event, 'data', p_data)
  ) end
$$;

create or replace function private.crm_to_location(p_location text, p_event text, p_data jsonb)
returns jsonb
language sql
immutable
set search_path = ''
as $$
  select case when p_location is null then '[]'::jsonb else jsonb_build_array(
    jsonb_build_object(
      'channel', 'private-location-' || p_location, 'event', p_event, 'data', p_data,
      'location', p_location
    )
  ) end
$$;

create or replace function private.crm_emit(p_items jsonb, p_reminders integer default 20)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_reminders jsonb := private.crm_reminders_claim(p_reminders);
  v_item jsonb;
  v_id bigint;
  v_ids bigint[] := '{}';
begin
  for v_item in
    select e.value
    from jsonb_array_elements(coalesce(p_items, '[]'::jsonb) || v_reminders)
      with ordinality as e(value, n)
    order by e.value ->> 'channel', e.n
  loop
    v_id := public.outbox_enqueue(v_item ->> 'channel', v_item ->> 'event', v_item -> 'data');
    v_ids := v_ids || v_id;
    if v_item ? 'location' then
      insert into public.crm_activity (location_id, event, data, outbox_id)
        values (v_item ->> 'location', v_item ->> 'event', v_item -> 'data', v_id);
    end if;
  end loop;
  return jsonb_build_object(
    'events', public.outbox_rows(v_ids),
    'reminders', jsonb_array_length(v_reminders)
  );
end
$$;

revoke execute on function private.crm_to_user(text, text, jsonb) from public, anon, authenticated;
revoke execute on function private.crm_to_location(text, text, jsonb)
  from public, anon, authenticated;
revoke execute on function private.crm_emit(jsonb, integer) from public, anon, authenticated;
grant execute on function private.crm_to_user(text, text, jsonb) to service_role;
grant execute on function private.crm_to_location(text, text, jsonb) to service_role;
grant execute on function private.crm_emit(jsonb, integer) to service_role;
