-- CRM contacts and notes (HighLevel ContactCreate/Update/TagUpdate/DndUpdate/Delete, NoteCreate).
--
--   crm_contacts  the latest snapshot of each contact (events carry full or partial snapshots:
--                 a field absent from the payload keeps its stored value); assigned_to is the
--                 HighLevel user the contact belongs to, the "assignee" of anything that only
--                 names the contact (messages, invoices, appointments). lead_alerted_at: the
--                 lead alert went out (once per contact, whatever the redeliveries).
--   crm_notes     notes on contacts (bodies never leave through location channels)
--
--   private.crm_contact(location, contact id)       the contact row, created bare if unknown
--   private.crm_contact_name(contact)               name, else first + last, else ''
--   private.crm_assignee(ghl user, contact id)      the app user to tell: the record's own
--                                                   assignee, else its contact's
--
-- Processors:
--   crm_on_contact_create    ContactCreate: `lead-alert` {type: new_lead | form_submission,
--                            formName?, contact{id, name, email, phone}, source, hot} on the
--                            location, and to the assignee when the contact is assigned.
--                            hot = a form submission or a "hot" tag.
--   crm_on_contact_activity  ContactUpdate, ContactTagUpdate, ContactDndUpdate, ContactDelete,
--                            NoteCreate: `contact-activity` {type, contact{id, name}} on the
--                            location (no email, phone, tags or note body).

create table public.crm_contacts (
  id text primary key check (char_length(id) between 1 and 128),
  location_id text not null references public.locations (id) on delete cascade,
  first_name text check (char_length(first_name) <= 200),
  last_name text check (char_length(last_name) <= 200),
  name text check (char_length(name) <= 400),
  email text check (char_length(email) <= 320),
  phone text check (char_length(phone) <= 64),
  tags text[] not null default '{}',
  dnd boolean not null default false,
  source text check (char_length(source) <= 400),
  assigned_to text check (char_length(assigned_to) <= 128),
  lead_alerted_at timestamptz,
  deleted_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create index crm_contacts_location_id_idx on public.crm_contacts (location_id);
create index crm_contacts_assigned_to_idx on public.crm_contacts (assigned_to);

create table public.crm_notes (
  id text primary key check (char_length(id) between 1 and 128),
  location_id text not null references public.locations (id) on delete cascade,
  contact_id text check (char_length(contact_id) <= 128),
  body text not null default '' check (char_length(body) <= 20000),
  created_at timestamptz not null default now()
);

create index crm_notes_contact_id_idx on public.crm_notes (contact_id);

alter table public.crm_contacts enable row level security;
alter table public.crm_notes enable row level security;

create policy "crm_contacts: members read their locations' contacts"
  on public.crm_contacts for select to authenticated
  using (private.is_location_member(location_id, (select auth.jwt() ->> 'sub')));

create policy "crm_notes: members read their locations' notes"
  on public.crm_notes for select to authenticated
  using (private.is_location_member(location_id, (select auth.jwt() ->> 'sub')));

revoke all on public.crm_contacts, public.crm_notes from anon, authenticated;
grant select on public.crm_contacts, public.crm_notes to authenticated;
grant select, insert, update, delete on public.crm_contacts, public.crm_notes to service_role;

create or replace function private.crm_contact(p_location text, p_contact text)
returns public.crm_contacts
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_row public.crm_contacts;
begin
  if p_contact is null or p_contact = '' then
    return null;
  end if;
  insert into public.crm_contacts (id, location_id) values (left(p_contact, 128), p_location)
    on conflict (id) do nothing;
  select * into v_row from public.crm_contacts where id = left(p_contact, 128);
  return v_row;
end
$$;

create or replace function private.crm_contact_name(p_contact public.crm_contacts)
returns text
language sql
immutable
set search_path = ''
as $$
  select coalesce(
    nullif(p_contact.name, ''),
    nullif(trim(concat_ws(' ', p_contact.first_name, p_contact.last_name)), ''),
    ''
  )
$$;

create or replace function private.crm_assignee(p_ghl_user text, p_contact text)
returns text
language sql
stable
security definer
set search_path = ''
as $$
  select private.crm_app_user(coalesce(
    nullif(p_ghl_user, ''),
    (select c.assigned_to from public.crm_contacts c where c.id = p_contact)
  ))
$$;

-- Apply a contact snapshot: fields the payload carries replace the stored ones.
create or replace function private.crm_contact_apply(p_location text, p_data jsonb)
returns public.crm_contacts
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_id text := nullif(p_data ->> 'id', '');
  v_row public.crm_contacts;
begin
  if v_id is null then
    raise exception 'a contact event needs an id' using errcode = '22023';
  end if;
  perform private.crm_contact(p_location, v_id);
  update public.crm_contacts c set
    first_name = case when p_data ? 'firstName' then left(p_data ->> 'firstName', 200) else c.first_name end,
    last_name = case when p_data ? 'lastName' then left(p_data ->> 'lastName', 200) else c.last_name end,
    name = case when p_data ? 'name' then left(p_data ->> 'name', 400) else c.name end,
    email = case when p_data ? 'email' then left(p_data ->> 'email', 320) else c.email end,
    phone = case when p_data ? 'phone' then left(p_data ->> 'phone', 64) else c.phone end,
    tags = case when jsonb_typeof(p_data -> 'tags') = 'array'
      then array(select left(t, 200) from jsonb_array_elements_text(p_data -> 'tags') t)
      else c.tags end,
    dnd = case when jsonb_typeof(p_data -> 'dnd') = 'boolean' then (p_data ->> 'dnd')::boolean
      else c.dnd end,
    source = case when p_data ? 'source' then left(p_data ->> 'source', 400) else c.source end,
    assigned_to = case when p_data ? 'assignedTo' then left(nullif(p_data ->> 'assignedTo', ''), 128)
      else c.assigned_to end,
    updated_at = now()
  where c.id = v_id
  returning * into v_row;
  return v_row;
end
$$;

create or replace function public.crm_on_contact_create(p_event jsonb)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_data jsonb := coalesce(p_event -> 'data', '{}'::jsonb);
  v_location text := private.crm_location(p_event ->> 'locationId');
  v_contact public.crm_contacts := private.crm_contact_apply(v_location, v_data);
  v_form_name text := coalesce(
    nullif(v_data ->> 'formName', ''),
    nullif(v_data -> 'attributionSource' ->> 'formName', ''),
    case when v_contact.source ilike '%form%' then v_contact.source end
  );
  v_hot boolean := v_form_name is not null
    or exists (select 1 from unnest(v_contact.tags) t where lower(t) = 'hot');
  v_alert jsonb;
  v_items jsonb := '[]'::jsonb;
begin
  if v_contact.lead_alerted_at is null then
    update public.crm_contacts set lead_alerted_at = now() where id = v_contact.id;
    v_alert := jsonb_strip_nulls(jsonb_build_object(
      'type', case when v_form_name is not null then 'form_submission' else 'new_lead' end,
      'formName', v_form_name,
      'source', v_contact.source,
      'hot', v_hot
    )) || jsonb_build_object('contact', jsonb_build_object(
      'id', v_contact.id,
      'name', private.crm_contact_name(v_contact),
      'email', v_contact.email,
      'phone', v_contact.phone
    ));
    v_items := private.crm_to_location(v_location, 'lead-alert', v_alert)
      || private.crm_to_user(private.crm_app_user(v_contact.assigned_to), 'lead-alert', v_alert);
  end if;
  return jsonb_build_object('contact', v_contact.id) || private.crm_emit(v_items);
end
$$;

create or replace function public.crm_on_contact_activity(p_event jsonb)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_type text := p_event ->> 'type';
  v_data jsonb := coalesce(p_event -> 'data', '{}'::jsonb);
  v_contact_id text := case when v_type = 'NoteCreate' then nullif(v_data ->> 'contactId', '')
    else nullif(v_data ->> 'id', '') end;
  v_location text := nullif(p_event ->> 'locationId', '');
  v_contact public.crm_contacts;
  v_kind text;
begin
  if v_location is null then  -- NoteCreate may name only the contact
    select location_id into v_location from public.crm_contacts where id = v_contact_id;
  end if;
  v_location := private.crm_location(v_location);
  if v_type = 'NoteCreate' then
    if nullif(v_data ->> 'id', '') is null then
      raise exception 'a note event needs an id' using errcode = '22023';
    end if;
    insert into public.crm_notes (id, location_id, contact_id, body, created_at)
      values (
        left(v_data ->> 'id', 128), v_location, left(v_contact_id, 128),
        left(coalesce(v_data ->> 'body', ''), 20000),
        coalesce(private.crm_timestamp(v_data ->> 'dateAdded', 'UTC'), now())
      )
      on conflict (id) do update set body = excluded.body;
    v_contact := private.crm_contact(v_location, v_contact_id);
    v_kind := 'note_added';
  elsif v_type = 'ContactDelete' then
    v_contact := private.crm_contact(v_location, v_contact_id);
    update public.crm_contacts set deleted_at = now(), updated_at = now()
      where id = v_contact.id;
    v_kind := 'contact_deleted';
  else
    v_contact := private.crm_contact_apply(v_location, v_data);
    v_kind := case v_type
      when 'ContactTagUpdate' then 'tags_updated'
      when 'ContactDndUpdate' then 'dnd_updated'
      else 'contact_updated' end;
  end if;
  return jsonb_build_object('contact', v_contact.id) || private.crm_emit(
    private.crm_to_location(v_location, 'contact-activity', jsonb_build_object(
      'type', v_kind,
      'contact', jsonb_build_object(
        'id', v_contact.id, 'name', coalesce(private.crm_contact_name(v_contact), '')
      )
    ))
  );
end
$$;

revoke execute on function private.crm_contact(text, text) from public, anon, authenticated;
revoke execute on function private.crm_contact_name(public.crm_contacts)
  from public, anon, authenticated;
revoke execute on function private.crm_assignee(text, text) from public, anon, authenticated;
revoke execute on function private.crm_contact_apply(text, jsonb)
  from public, anon, authenticated;
revoke execute on function public.crm_on_contact_create(jsonb) from public, anon, authenticated;
revoke execute on function public.crm_on_contact_activity(jsonb)
  from public, anon, authenticated;
grant execute on function private.crm_contact(text, text) to service_role;
grant execute on function private.crm_contact_name(public.crm_contacts) to service_role;
grant execute on function private.crm_assignee(text, text) to service_role;
grant execute on function private.crm_contact_apply(text, jsonb) to service_role;
grant execute on function public.crm_on_contact_create(jsonb) to service_role;
grant execute on function public.crm_on_contact_activity(jsonb) to service_role;
