-- The story domain: stories with their revisions and scenes, playlists with ordered items,
-- listening sessions (with a resume position) and each user's story settings. Media files live
-- under NOVA_MEDIA_DIR; the columns hold their paths relative to it.

CREATE FUNCTION stories_touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;

CREATE TABLE stories (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id            bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title              text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 200),
    prompt             text NOT NULL DEFAULT '' CHECK (char_length(prompt) <= 20000),
    system_prompt_used text NOT NULL DEFAULT '',
    story_text         text NOT NULL DEFAULT '' CHECK (char_length(story_text) <= 200000),
    template           text NOT NULL DEFAULT 'adventure'
                       CHECK (template IN ('adventure', 'fantasy', 'sci-fi', 'mystery', 'educational')),
    image              text,             -- relative media path
    image_description  text NOT NULL DEFAULT '',
    audio_file         text,             -- relative media path of the MP3
    audio_duration_ms  integer CHECK (audio_duration_ms >= 0),
    marks_file         text,             -- relative media path of the word timings (JSON)
    voice_id           text NOT NULL DEFAULT '' CHECK (char_length(voice_id) <= 50),
    language_code      text NOT NULL DEFAULT 'en-US' CHECK (char_length(language_code) <= 16),
    is_published       boolean NOT NULL DEFAULT false,
    status             text NOT NULL DEFAULT 'draft'
                       CHECK (status IN ('draft', 'generating', 'ready', 'failed')),
    status_detail      text,             -- why the last generation failed (for the pipeline)
    provider           text,
    model              text,
    questions          jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(questions) = 'array'),
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stories_user_created ON stories (user_id, created_at DESC);
CREATE INDEX stories_template_created ON stories (template, created_at DESC);
CREATE INDEX stories_published_created ON stories (is_published, created_at DESC);
CREATE INDEX stories_created ON stories (created_at DESC);
CREATE TRIGGER stories_updated_at BEFORE UPDATE ON stories
    FOR EACH ROW EXECUTE FUNCTION stories_touch_updated_at();

-- A snapshot of the text (with the prompt and template that produced it) taken every time the
-- text is replaced; `reason` says what replaced it.
CREATE TABLE story_revisions (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    story_id   uuid NOT NULL REFERENCES stories (id) ON DELETE CASCADE,
    story_text text NOT NULL,
    prompt     text NOT NULL DEFAULT '',
    template   text NOT NULL DEFAULT 'adventure',
    reason     text NOT NULL CHECK (reason IN ('edit', 'regenerate', 'restore')),
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    created_by bigint REFERENCES users (id) ON DELETE SET NULL
);
CREATE INDEX story_revisions_story_created ON story_revisions (story_id, created_at DESC);

CREATE TABLE story_scenes (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    story_id     uuid NOT NULL REFERENCES stories (id) ON DELETE CASCADE,
    scene_number integer NOT NULL CHECK (scene_number BETWEEN 1 AND 1000),
    scene_text   text NOT NULL DEFAULT '',
    image        text,                   -- relative media path
    prompt_used  text NOT NULL DEFAULT '',
    status       text NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'generating', 'ready', 'failed')),
    error        text,
    provider     text,
    model        text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (story_id, scene_number)
);
CREATE TRIGGER story_scenes_updated_at BEFORE UPDATE ON story_scenes
    FOR EACH ROW EXECUTE FUNCTION stories_touch_updated_at();

CREATE TABLE playlists (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name        text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    description text NOT NULL DEFAULT '' CHECK (char_length(description) <= 10000),
    is_public   boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX playlists_user_created ON playlists (user_id, created_at DESC);
CREATE INDEX playlists_public_created ON playlists (is_public, created_at DESC);
CREATE TRIGGER playlists_updated_at BEFORE UPDATE ON playlists
    FOR EACH ROW EXECUTE FUNCTION stories_touch_updated_at();

-- The stories of a playlist in the owner's order (position 0, 1, 2...). The position constraint
-- is checked at commit, so a reorder can rewrite every position in one statement.
CREATE TABLE playlist_items (
    playlist_id uuid NOT NULL REFERENCES playlists (id) ON DELETE CASCADE,
    story_id    uuid NOT NULL REFERENCES stories (id) ON DELETE CASCADE,
    position    integer NOT NULL CHECK (position >= 0),
    added_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (playlist_id, story_id),
    CONSTRAINT playlist_items_position UNIQUE (playlist_id, position) DEFERRABLE INITIALLY DEFERRED
);
CREATE INDEX playlist_items_story ON playlist_items (story_id);

-- A listening session; position_ms is where playback stopped, so listening can resume.
CREATE TABLE story_sessions (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    story_id         uuid NOT NULL REFERENCES stories (id) ON DELETE CASCADE,
    user_id          bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    started_at       timestamptz NOT NULL DEFAULT now(),
    ended_at         timestamptz,
    duration_seconds integer CHECK (duration_seconds >= 0),
    completed        boolean NOT NULL DEFAULT false,
    position_ms      bigint NOT NULL DEFAULT 0 CHECK (position_ms >= 0),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX story_sessions_user_started ON story_sessions (user_id, started_at DESC);
CREATE INDEX story_sessions_story_started ON story_sessions (story_id, started_at DESC);
CREATE INDEX story_sessions_started ON story_sessions (started_at DESC);
CREATE TRIGGER story_sessions_updated_at BEFORE UPDATE ON story_sessions
    FOR EACH ROW EXECUTE FUNCTION stories_touch_updated_at();

CREATE TABLE user_story_settings (
    id                            bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    user_id                       bigint NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    age_range                     text NOT NULL DEFAULT '6-8' CHECK (age_range IN ('3-5', '6-8', '9-12')),
    genre_preference              text NOT NULL DEFAULT 'mixed'
        CHECK (genre_preference IN ('fantasy', 'adventure', 'sci-fi', 'mystery', 'educational', 'mixed')),
    language_level                text NOT NULL DEFAULT 'moderate'
        CHECK (language_level IN ('simple', 'moderate', 'advanced')),
    moral_theme                   text NOT NULL DEFAULT 'mixed'
        CHECK (moral_theme IN ('friendship', 'kindness', 'bravery', 'curiosity', 'teamwork', 'growth',
                               'empathy', 'mixed')),
    include_diversity             boolean NOT NULL DEFAULT true,
    include_sensory_details       boolean NOT NULL DEFAULT true,
    include_interactive_questions boolean NOT NULL DEFAULT true,
    max_word_count                integer NOT NULL DEFAULT 800 CHECK (max_word_count BETWEEN 100 AND 2000),
    story_parts                   integer NOT NULL DEFAULT 5 CHECK (story_parts BETWEEN 3 AND 8),
    include_sound_effects         boolean NOT NULL DEFAULT true,
    explain_complex_words         boolean NOT NULL DEFAULT true,
    default_voice_id              text NOT NULL DEFAULT '' CHECK (char_length(default_voice_id) <= 50),
    default_language_code         text NOT NULL DEFAULT 'en-US' CHECK (char_length(default_language_code) <= 16),
    created_at                    timestamptz NOT NULL DEFAULT now(),
    updated_at                    timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER user_story_settings_updated_at BEFORE UPDATE ON user_story_settings
    FOR EACH ROW EXECUTE FUNCTION stories_touch_updated_at();
