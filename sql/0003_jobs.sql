-- The generation pipeline: durable jobs (claimed with FOR UPDATE SKIP LOCKED, held by a lease
-- that heartbeats renew, never by an open transaction), the events they produce for server-sent
-- event streams (the bigint id is the SSE id, so Last-Event-ID can replay what a client missed),
-- single-use tickets that let a browser's EventSource authenticate, and idempotency keys for the
-- generation endpoints.

CREATE TABLE jobs (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    kind             text NOT NULL CHECK (kind ~ '^[a-z_]{1,32}$'),
    story_id         uuid REFERENCES stories (id) ON DELETE CASCADE,
    user_id          bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    parent_id        uuid REFERENCES jobs (id) ON DELETE CASCADE,
    scene_number     integer,          -- children of a "scenes" job: the scene they draw
    -- available: waiting for a worker (from run_at on); running: claimed, locked_by holds a
    -- lease until locked_until; waiting: a parent whose own step is done and whose children
    -- are still running; the rest are final.
    state            text NOT NULL DEFAULT 'available'
                     CHECK (state IN ('available', 'running', 'waiting', 'succeeded', 'partial',
                                      'failed', 'cancelled')),
    attempt          integer NOT NULL DEFAULT 0 CHECK (attempt >= 0),
    max_attempts     integer NOT NULL DEFAULT 5 CHECK (max_attempts BETWEEN 1 AND 100),
    run_at           timestamptz NOT NULL DEFAULT now(),
    locked_by        text,
    locked_until     timestamptz,
    cancel_requested boolean NOT NULL DEFAULT false,
    progress         integer NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    step             text NOT NULL DEFAULT '',
    error            text,
    payload          jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(payload) = 'object'),
    checkpoint       jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(checkpoint) = 'object'),
    result           jsonb,
    created_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz
) WITH (fillfactor = 70, autovacuum_vacuum_scale_factor = 0.01);

-- One active top-level job per story and kind: a second request finds the first one.
CREATE UNIQUE INDEX jobs_one_active ON jobs (story_id, kind)
    WHERE parent_id IS NULL AND state IN ('available', 'running', 'waiting');
-- One child per scene of a parent, so a retried parent never enqueues a scene twice.
CREATE UNIQUE INDEX jobs_child_scene ON jobs (parent_id, scene_number) WHERE parent_id IS NOT NULL;
CREATE INDEX jobs_available ON jobs (run_at, id) WHERE state = 'available';
CREATE INDEX jobs_lease ON jobs (locked_until) WHERE state = 'running';
CREATE INDEX jobs_user_running ON jobs (user_id) WHERE state = 'running';
CREATE INDEX jobs_waiting ON jobs (updated_at) WHERE state = 'waiting';
CREATE INDEX jobs_story_created ON jobs (story_id, created_at DESC);
CREATE INDEX jobs_parent ON jobs (parent_id) WHERE parent_id IS NOT NULL;

-- Raised inside a transaction whose job is no longer held by the caller (lease expired and
-- rescued, cancelled, finished elsewhere): the whole transaction then rolls back, so a worker
-- that lost its job can never write results over its successor's.
CREATE FUNCTION jobs_hold(p_job uuid, p_worker text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM jobs WHERE id = p_job AND locked_by = p_worker AND state = 'running' FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'job % is not held by %', p_job, p_worker USING ERRCODE = 'NJ001';
    END IF;
END
$$;

CREATE TABLE job_events (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    story_id   uuid,   -- no foreign keys: the history outlives a deleted story until pruned
    job_id     uuid,
    type       text NOT NULL CHECK (type ~ '^[a-z_]{1,24}\.[a-z_]{1,24}$'),
    data       jsonb NOT NULL CHECK (jsonb_typeof(data) = 'object'),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX job_events_user ON job_events (user_id, id);
CREATE INDEX job_events_story ON job_events (story_id, id);
CREATE INDEX job_events_created ON job_events (created_at);

-- Stores an event and wakes every instance (NOTIFY is delivered at commit, so an event that
-- rolls back is never announced). The payload is "<event id> <user id>": ids, never rows, far
-- below NOTIFY's 8000-byte limit; instances without a stream for that user ignore it.
CREATE FUNCTION job_event(p_user bigint, p_story uuid, p_job uuid, p_type text, p_data jsonb)
    RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    eid bigint;
BEGIN
    INSERT INTO job_events (user_id, story_id, job_id, type, data)
    VALUES (p_user, p_story, p_job, p_type,
            coalesce(p_data, '{}') || jsonb_build_object('job_id', p_job, 'story_id', p_story))
    RETURNING id INTO eid;
    PERFORM pg_notify('nova_events', eid::text || ' ' || p_user::text);
    RETURN eid;
END
$$;

-- Single-use, short-lived tickets for EventSource (which cannot send Authorization). Only the
-- SHA-256 of the ticket is stored.
CREATE TABLE event_tickets (
    ticket_hash bytea PRIMARY KEY CHECK (octet_length(ticket_hash) = 32),
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at  timestamptz NOT NULL
);
CREATE INDEX event_tickets_expires ON event_tickets (expires_at);

-- Idempotency-Key of generation requests: the first answer is replayed for the same key and
-- body, 409 while it is in flight, 422 for a different body. Pruned after a day.
CREATE TABLE idempotency_keys (
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key         text NOT NULL CHECK (char_length(key) BETWEEN 1 AND 255),
    method      text NOT NULL,
    path        text NOT NULL,
    fingerprint text NOT NULL,
    state       text NOT NULL DEFAULT 'in_flight' CHECK (state IN ('in_flight', 'done')),
    status      integer,
    location    text,
    body        text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- The pipeline's additions to the story tables: the changes a parent asked for when
-- regenerating are kept with the story, and scenes whose story text was replaced are marked
-- stale (their pictures stay until new ones are generated).
ALTER TABLE stories ADD COLUMN modifications text NOT NULL DEFAULT ''
    CHECK (char_length(modifications) <= 20000);
ALTER TABLE story_scenes DROP CONSTRAINT story_scenes_status_check;
ALTER TABLE story_scenes ADD CONSTRAINT story_scenes_status_check
    CHECK (status IN ('pending', 'generating', 'ready', 'failed', 'stale'));
