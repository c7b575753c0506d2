-- CRM appointments and their reminders: HighLevel AppointmentCreate/Update/Delete, and a
-- reminder 15 minutes before each start without any running process.
--
--   crm_appointments           latest snapshot per appointment
--   crm_appointment_reminders  one per appointment: remind_at = start - 15 min. Rescheduled
--                              when the start moves (a sent reminder is armed again for the new
--                              time), cancelled when the appointment is deleted or cancelled.
--                              status: scheduled -> sent (published) | missed (nobody claimed
--                              it before the start: no reminder after the fact) | cancelled.
--
--   private.crm_reminders_claim(limit)  due reminders, each claimed by exactly one transaction
--                                       (`for update skip locked`) and marked in it; returns
--                                       the items private.crm_emit queues:
--                                       `appointment-reminder` {appointmentId, title,
--                                       contactName, startsIn (minutes, 15 when on time),
--                                       startTime, location} to the assignee, or to the
--                                       location when nobody is assigned
--   crm_reminders_fire(limit)           the `crm-reminders` cron (and the webhook endpoint
--                                       after deliveries that ran no processor): claim + queue
--   crm_on_appointment                  the assignee (assignedUserId, else the contact's
--                                       user): `appointment-update` {type: created | updated |
--                                       cancelled, appointment{id, title, startTime, endTime,
--                                       status}, contact{name}}
-- Every CRM processor claims due reminders too (private.crm_emit), so they go out with the
-- next HighLevel delivery even where crons run only daily (Vercel Hobby; docs/crm.md).

create table public.crm_appointments (
  id text primary key check (char_length(id) between 1 and 128),
  location_id text not null references public.locations (id) on delete cascade,
  calendar_id text check (char_length(calendar_id) <= 128),
  contact_id text check (char_length(contact_id) <= 128),
  title text not null default '' check (char_length(title) <= 400),
  status text not null default 'confirmed' check (char_length(status) between 1 and 32),
  assigned_to text check (char_length(assigned_to) <= 128),
  starts_at timestamptz,
  ends_at timestamptz,
  deleted_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create index crm_appointments_location_id_starts_at_idx
  on public.crm_appointments (location_id, starts_at);

create table public.crm_appointment_reminders (
  appointment_id text primary key references public.crm_appointments (id) on delete cascade,
  location_id text not null references public.locations (id) on delete cascade,
  remind_at timestamptz not null,
  status text not null default 'scheduled'
    check (status in ('scheduled', 'sent', 'missed', 'cancelled')),
  sent_at timestamptz,
  updated_at timestamptz not null default now()
);

create index crm_appointment_reminders_due_idx
  on public.crm_appointment_reminders (remind_at) where status = 'scheduled';

alter table public.crm_appointments enable row level security;
alter table public.crm_appointment_reminders enable row level security;

create policy "crm_appointments: members read their locations' appointments"
  on public.crm_appointments for select to authenticated
  using (private.is_location_member(location_id, (select auth.jwt() ->> 'sub')));

create policy "crm_appointment_reminders: members read their locations' reminders"
  on public.crm_appointment_reminders for select to authenticated
  using (private.is_location_member(location_id, (select auth.jwt() ->> 'sub')));

revoke all on public.crm_appointments, public.crm_appointment_reminders from anon, authenticated;
grant select on public.crm_appointments, public.crm_appointment_reminders to authenticated;
grant select, insert, update, delete on public.crm_appointments,
  public.crm_appointment_reminders to service_role;

create or replace function private.crm_reminders_claim(p_limit integer)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_items jsonb := '[]'::jsonb;
  v_row record;
  v_data jsonb;
  v_to text;
begin
  for v_row in
    with due as (
      select r.appointment_id
      from public.crm_appointment_reminders r
      where r.status = 'scheduled' and r.remind_at <= now()
      order by r.remind_at
      limit greatest(p_limit, 0)
      for update skip locked
    )
    update public.crm_appointment_reminders r
      set status = case when a.starts_at > now() then 'sent' else 'missed' end,
          sent_at = now(), updated_at = now()
    from due, public.crm_appointments a
    where r.appointment_id = due.appointment_id and a.id = r.appointment_id
    returning r.status, a.id, a.location_id, a.title, a.starts_at, a.assigned_to, a.contact_id
  loop
    continue when v_row.status <> 'sent';
    v_data := jsonb_build_object(
      'appointmentId', v_row.id,
      'title', v_row.title,
      'contactName', coalesce(
        (select private.crm_contact_name(c) from public.crm_contacts c where c.id = v_row.contact_id),
        ''
      ),
      'startsIn', ceil(extract(epoch from v_row.starts_at - now()) / 60)::integer,
      'startTime', to_char(v_row.starts_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
      'location', jsonb_build_object(
        'id', v_row.location_id,
        'name', coalesce((select l.name from public.locations l where l.id = v_row.location_id), '')
      )
    );
    v_to := private.crm_assignee(v_row.assigned_to, v_row.contact_id);
    v_items := v_items || case when v_to is not null
      then private.crm_to_user(v_to, 'appointment-reminder', v_data)
      else private.crm_to_location(v_row.location_id, 'appointment-reminder', v_data) end;
  end loop;
  return v_items;
end
$$;

create or replace function public.crm_reminders_fire(p_limit integer default 50)
returns jsonb
language sql
volatile
security definer
set search_path = ''
as $$
  select private.crm_emit('[]'::jsonb, p_limit)
$$;

create or replace function public.crm_on_appointment(p_event jsonb)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_type text := p_event ->> 'type';
  v_data jsonb := coalesce(p_event -> 'data' -> 'appointment', p_event -> 'data', '{}'::jsonb);
  v_location text := private.crm_location(coalesce(p_event ->> 'locationId', v_data ->> 'locationId'));
  v_zone text := (select time_zone from public.crm_locations where location_id = v_location);
  v_id text := left(nullif(v_data ->> 'id', ''), 128);
  v_old public.crm_appointments;
  v_new public.crm_appointments;
  v_contact public.crm_contacts;
  v_status text := left(lower(coalesce(nullif(v_data ->> 'appointmentStatus', ''), nullif(v_data ->> 'status', ''), 'confirmed')), 32);
  v_cancelled boolean;
  v_kind text;
begin
  if v_id is null then
    raise exception 'an appointment event needs appointment.id' using errcode = '22023';
  end if;
  select * into v_old from public.crm_appointments where id = v_id for update;
  v_contact := private.crm_contact(v_location, coalesce(v_data ->> 'contactId', v_old.contact_id));
  v_cancelled := v_type = 'AppointmentDelete' or v_status in ('cancelled', 'canceled', 'invalid', 'noshow');
  insert into public.crm_appointments as a (
    id, location_id, calendar_id, contact_id, title, status, assigned_to, starts_at, ends_at,
    deleted_at
  ) values (
    v_id, v_location, left(nullif(v_data ->> 'calendarId', ''), 128), v_contact.id,
    left(coalesce(v_data ->> 'title', ''), 400),
    case when v_type = 'AppointmentDelete' then 'cancelled' else v_status end,
    left(nullif(coalesce(p_event ->> 'assignee', v_data ->> 'assignedUserId'), ''), 128),
    private.crm_timestamp(v_data ->> 'startTime', v_zone),
    private.crm_timestamp(v_data ->> 'endTime', v_zone),
    case when v_type = 'AppointmentDelete' then now() end
  )
  on conflict (id) do update set
    calendar_id = coalesce(excluded.calendar_id, a.calendar_id),
    contact_id = coalesce(excluded.contact_id, a.contact_id),
    title = case when v_data ? 'title' then excluded.title else a.title end,
    status = excluded.status,
    assigned_to = coalesce(excluded.assigned_to, a.assigned_to),
    starts_at = coalesce(excluded.starts_at, a.starts_at),
    ends_at = coalesce(excluded.ends_at, a.ends_at),
    deleted_at = excluded.deleted_at,
    updated_at = now()
  returning * into v_new;

  if v_cancelled then
    update public.crm_appointment_reminders set status = 'cancelled', updated_at = now()
      where appointment_id = v_id and status = 'scheduled';
  elsif v_new.starts_at > now() then
    insert into public.crm_appointment_reminders as r (appointment_id, location_id, remind_at)
      values (v_id, v_location, v_new.starts_at - interval '15 minutes')
      on conflict (appointment_id) do update
        set remind_at = excluded.remind_at, status = 'scheduled', sent_at = null,
            updated_at = now()
        where r.remind_at is distinct from excluded.remind_at or r.status = 'cancelled';
  end if;

  v_kind := case
    when v_cancelled then 'cancelled'
    when v_old.id is null then 'created'
    else 'updated' end;
  if v_kind = 'cancelled' and v_old.status in ('cancelled', 'canceled') then
    v_kind := null;  -- cancelled already: nothing new to say
  end if;
  return jsonb_build_object('appointment', v_id, 'change', v_kind) || private.crm_emit(
    case when v_kind is null then '[]'::jsonb else private.crm_to_user(
      private.crm_assignee(v_new.assigned_to, v_new.contact_id),
      'appointment-update',
      jsonb_build_object(
        'type', v_kind,
        'appointment', jsonb_build_object(
          'id', v_new.id, 'title', v_new.title, 'status', v_new.status,
          'startTime', to_char(v_new.starts_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
          'endTime', to_char(v_new.ends_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
        ),
        'contact', jsonb_build_object('name', coalesce(private.crm_contact_name(v_contact), ''))
      )
    ) end
  );
end
$$;

revoke execute on function private.crm_reminders_claim(integer) from public, anon, authenticated;
revoke execute on function public.crm_reminders_fire(integer) from public, anon, authenticated;
revoke execute on function public.crm_on_appointment(jsonb) from public, anon, authenticated;
grant execute on function private.crm_reminders_claim(integer) to service_role;
grant execute on function public.crm_reminders_fire(integer) to service_role;
grant execute on function public.crm_on_appointment(jsonb) to service_role;
