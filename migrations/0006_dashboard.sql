-- 0006: what the dashboard shows beside the image: the decode order (its heatmap) and the adaptive
-- policy's drafts, and which version each worker runs.

ALTER TABLE results ADD COLUMN decode_order integer[];  -- per token (raster order): the pass that decoded it
ALTER TABLE results ADD COLUMN drafts integer;          -- adaptive: drafts made
ALTER TABLE results ADD COLUMN accepted integer;        -- adaptive: drafts accepted
ALTER TABLE workers ADD COLUMN version text;
