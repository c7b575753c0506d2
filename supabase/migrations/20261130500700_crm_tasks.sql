-- CRM tasks: HighLevel TaskCreate, TaskComplete, TaskDelete.
--
--   crm_tasks    latest snapshot per task; assigned_to is the HighLevel user
--   crm_on_task  the assignee (assignedTo, else the contact's user): `task-update`
--                {type: created | completed | deleted, task{id, title, dueDate, completed},
--                contact{name}}. A redelivery that changes nothing publishes nothing.

create table public.crm_tasks (
  id text primary key check (char_length(id) between 1 and 128),
  location_id text not null references public.locations (id) on delete cascade,
  contact_id text check (char_length(contact_id) <= 128),
  title text not null default '' check (char_length(title) <= 400),
  body text check (char_length(body) <= 20000),
  assigned_to text check (char_length(assigned_to) <= 128),
  due_at timestamptz,
  completed boolean not null default false,
  deleted_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create index crm_tasks_location_id_idx on public.crm_tasks (location_id, due_at);
create index crm_tasks_assigned_to_idx on public.crm_tasks (assigned_to, due_at);

alter table public.crm_tasks enable row level security;

create policy "crm_tasks: members read their locations' tasks"
  on public.crm_tasks for select to authenticated
  using (private.is_location_member(location_id, (select auth.jwt() ->> 'sub')));

revoke all on public.crm_tasks from anon, authenticated;
grant select on public.crm_tasks to authenticated;
grant select, insert, update, delete on public.crm_tasks to service_role;

create or replace function public.crm_on_task(p_event jsonb)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_type text := p_event ->> 'type';
  v_data jsonb := coalesce(p_event -> 'data', '{}'::jsonb);
  v_location text := private.crm_location(p_event ->> 'locationId');
  v_zone text := (select time_zone from public.crm_locations where location_id = v_location);
  v_id text := left(nullif(v_data ->> 'id', ''), 128);
  v_old public.crm_tasks;
  v_new public.crm_tasks;
  v_contact public.crm_contacts;
  v_kind text;
begin
  if v_id is null then
    raise exception 'a task event needs an id' using errcode = '22023';
  end if;
  select * into v_old from public.crm_tasks where id = v_id for update;
  v_contact := private.crm_contact(v_location, coalesce(v_data ->> 'contactId', v_old.contact_id));
  insert into public.crm_tasks as t (
    id, location_id, contact_id, title, body, assigned_to, due_at, completed, deleted_at
  ) values (
    v_id, v_location, v_contact.id, left(coalesce(v_data ->> 'title', ''), 400),
    left(v_data ->> 'body', 20000),
    left(nullif(coalesce(p_event ->> 'assignee', v_data ->> 'assignedTo'), ''), 128),
    private.crm_timestamp(v_data ->> 'dueDate', v_zone),
    v_type = 'TaskComplete' or coalesce(v_data ->> 'completed', '') = 'true',
    case when v_type = 'TaskDelete' then now() end
  )
  on conflict (id) do update set
    contact_id = coalesce(excluded.contact_id, t.contact_id),
    title = case when v_data ? 'title' then excluded.title else t.title end,
    body = case when v_data ? 'body' then excluded.body else t.body end,
    assigned_to = coalesce(excluded.assigned_to, t.assigned_to),
    due_at = coalesce(excluded.due_at, t.due_at),
    completed = t.completed or excluded.completed,
    deleted_at = coalesce(excluded.deleted_at, t.deleted_at),
    updated_at = now()
  returning * into v_new;

  v_kind := case
    when v_type = 'TaskDelete' then case when v_old.deleted_at is null then 'deleted' end
    when v_type = 'TaskComplete' then case when v_old.completed is not true then 'completed' end
    when v_old.id is null then 'created'
  end;
  return jsonb_build_object('task', v_id, 'change', v_kind) || private.crm_emit(
    case when v_kind is null then '[]'::jsonb else private.crm_to_user(
      private.crm_assignee(v_new.assigned_to, v_new.contact_id),
      'task-update',
      jsonb_build_object(
        'type', v_kind,
        'task', jsonb_build_object(
          'id', v_new.id, 'title', v_new.title, 'completed', v_new.completed,
          'dueDate', to_char(v_new.due_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
        ),
        'contact', jsonb_build_object('name', coalesce(private.crm_contact_name(v_contact), ''))
      )
    ) end
  );
end
$$;

revoke execute on function public.crm_on_task(jsonb) from public, anon, authenticated;
grant execute on function public.crm_on_task(jsonb) to service_role;
