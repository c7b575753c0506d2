-- CRM email statistics: HighLevel LCEmailStats (LeadConnector email events, one per event:
-- webhookPayload.event = delivered, opened, clicked, failed, ...).
--
--   crm_email_stats      a counter per location, day (in the location's time zone) and event
--   crm_on_email_stats   counts every event; for delivered, opened and clicked the location
--                        gets `email-stats` {event, day, delivered, opened, clicked} (today's
--                        counts; never the recipient or the message)

create table public.crm_email_stats (
  location_id text not null references public.locations (id) on delete cascade,
  day date not null,
  event text not null check (event ~ '^[a-z_]{1,32}$'),
  count integer not null default 0 check (count >= 0),
  primary key (location_id, day, event)
);

alter table public.crm_email_stats enable row level security;

create policy "crm_email_stats: members read their locations' stats"
  on public.crm_email_stats for select to authenticated
  using (private.is_location_member(location_id, (select auth.jwt() ->> 'sub')));

revoke all on public.crm_email_stats from anon, authenticated;
grant select on public.crm_email_stats to authenticated;
grant select, insert, update, delete on public.crm_email_stats to service_role;

create or replace function public.crm_on_email_stats(p_event jsonb)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_data jsonb := coalesce(p_event -> 'data', '{}'::jsonb);
  v_location text := private.crm_location(p_event ->> 'locationId');
  v_zone text := (select time_zone from public.crm_locations where location_id = v_location);
  v_day date := (now() at time zone coalesce(v_zone, 'UTC'))::date;
  v_raw text := lower(coalesce(v_data -> 'webhookPayload' ->> 'event', v_data ->> 'event', ''));
  v_event text := case v_raw when 'open' then 'opened' when 'click' then 'clicked'
    when 'deliver' then 'delivered' else v_raw end;
  v_counts jsonb;
begin
  if v_event !~ '^[a-z_]{1,32}$' then
    return jsonb_build_object('counted', false) || private.crm_emit('[]'::jsonb);
  end if;
  insert into public.crm_email_stats (location_id, day, event, count)
    values (v_location, v_day, v_event, 1)
    on conflict (location_id, day, event) do update
      set count = public.crm_email_stats.count + 1;
  if v_event not in ('delivered', 'opened', 'clicked') then
    return jsonb_build_object('counted', true) || private.crm_emit('[]'::jsonb);
  end if;
  select jsonb_build_object(
    'delivered', coalesce(sum(count) filter (where event = 'delivered'), 0),
    'opened', coalesce(sum(count) filter (where event = 'opened'), 0),
    'clicked', coalesce(sum(count) filter (where event = 'clicked'), 0)
  ) into v_counts
  from public.crm_email_stats where location_id = v_location and day = v_day;
  return jsonb_build_object('counted', true) || private.crm_emit(
    private.crm_to_location(v_location, 'email-stats',
      jsonb_build_object('event', v_event, 'day', v_day) || v_counts)
  );
end
$$;

revoke execute on function public.crm_on_email_stats(jsonb) from public, anon, authenticated;
grant execute on function public.crm_on_email_stats(jsonb) to service_role;
