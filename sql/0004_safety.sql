-- Child safety and story consistency (issue 12): what the content screen did to a story
-- (`safety`, shown to its owner and staff only), the character sheet derived from the story so
-- every scene draws the same characters (`characters`), and per scene the picture seed shared by
-- every page of one story and what the image model's moderation said (`moderation`).

ALTER TABLE stories
    ADD COLUMN safety     jsonb CHECK (safety IS NULL OR jsonb_typeof(safety) = 'object'),
    ADD COLUMN characters jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(characters) = 'array');

ALTER TABLE story_scenes
    ADD COLUMN seed       bigint,
    ADD COLUMN moderation jsonb CHECK (moderation IS NULL OR jsonb_typeof(moderation) = 'object');
