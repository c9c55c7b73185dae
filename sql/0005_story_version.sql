-- A story's row changes whenever its scenes change, so the row version (xmin) stands for the
-- whole story as the API shows it: the server's story cache (src/api/story_cache.h) serves a
-- rendered story only while that version is unchanged. The touch also moves `updated_at`, which
-- now says when anything the story shows last changed (its scenes included).
-- One statement-level trigger per event (transition tables take one event each), so a
-- statement that writes five scenes touches their story once.

CREATE FUNCTION story_scenes_touch_new() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE stories SET updated_at = now() WHERE id IN (SELECT DISTINCT story_id FROM new_rows);
    RETURN NULL;
END
$$;

CREATE FUNCTION story_scenes_touch_old() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE stories SET updated_at = now() WHERE id IN (SELECT DISTINCT story_id FROM old_rows);
    RETURN NULL;
END
$$;

CREATE TRIGGER story_scenes_touch_insert AFTER INSERT ON story_scenes
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION story_scenes_touch_new();
CREATE TRIGGER story_scenes_touch_update AFTER UPDATE ON story_scenes
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION story_scenes_touch_new();
CREATE TRIGGER story_scenes_touch_delete AFTER DELETE ON story_scenes
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION story_scenes_touch_old();
