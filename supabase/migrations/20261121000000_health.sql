-- Health check: GET /api/health calls this through PostgREST to prove the whole path
-- (gateway -> PostgREST -> Postgres, schema migrated) answers. Service role only.

create or replace function public.health_check()
returns jsonb
language sql
stable
set search_path = ''
as $$
  select jsonb_build_object('db', 'ok', 'at', now())
$$;

revoke execute on function public.health_check() from public, anon, authenticated;
grant execute on function public.health_check() to service_role;
