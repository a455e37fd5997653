-- 0010: a text-to-image job may ask for a non-square grid, `size=12x20` (rows x columns). image_size becomes
-- the size's text: `N` for an N x N grid (what the integer held, so old rows read back unchanged) or `HxW`.
-- The rules are JobParameters.validate (Sources/JobCore); the CHECK repeats what SQL can state: each side a
-- number 1..256 (JobParameters.maxSize) without leading zeros.
ALTER TABLE jobs DROP CONSTRAINT jobs_image_size_check;
ALTER TABLE jobs ALTER COLUMN image_size TYPE text USING image_size::text;
ALTER TABLE jobs ADD CONSTRAINT jobs_image_size_check CHECK (image_size ~
    '^([1-9][0-9]?|1[0-9][0-9]|2[0-4][0-9]|25[0-6])(x([1-9][0-9]?|1[0-9][0-9]|2[0-4][0-9]|25[0-6]))?$');
