-- 0007: text-to-image jobs (Emu3, Chameleon / Lumina-mGPT) are drawn from a free-text prompt instead of a
-- class. The rules are JobParameters.validate (Sources/Decoding); the CHECKs repeat those SQL can state.
--
-- `prompt` already holds the prompt-file line as submitted (0004), so the text the image is drawn from is
-- `text_prompt`. class_label stays NOT NULL: a text job stores 0 (validate(for:) refuses any other class
-- for a text model), so every query, index, filter and reader of class_label works unchanged on old and
-- new rows; a text job is the one whose text_prompt is not NULL.

-- One line of text: 1-2000 characters (char_length counts what the Swift rule counts: Unicode scalars),
-- no control characters but tab (PostgreSQL text cannot hold NUL at all).
ALTER TABLE jobs ADD COLUMN text_prompt text
    CHECK (char_length(text_prompt) BETWEEN 1 AND 2000 AND text_prompt !~ '[\x01-\x08\x0a-\x1f\x7f-\x9f]');
ALTER TABLE jobs ADD COLUMN negative_prompt text
    CHECK (char_length(negative_prompt) BETWEEN 1 AND 2000 AND negative_prompt !~ '[\x01-\x08\x0a-\x1f\x7f-\x9f]');
-- What guidance steers away from only means something beside a prompt.
ALTER TABLE jobs ADD CONSTRAINT jobs_negative_prompt_needs_prompt
    CHECK (negative_prompt IS NULL OR text_prompt IS NOT NULL);
-- Image side in tokens for models with several resolutions; NULL = the model's native grid.
ALTER TABLE jobs ADD COLUMN image_size integer CHECK (image_size BETWEEN 1 AND 256);
