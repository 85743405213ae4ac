-- Sealed successor pairs are few (only tokens rotated within the last grace window and janitor
-- interval keep one), so both ways they are found go through partial indexes of just those rows:
-- the janitor's sweep by age, and each rotation's clearing of its family's older pairs (a family
-- index would scan every token the family ever rotated).
CREATE INDEX refresh_tokens_sealed ON refresh_tokens (rotated_at) WHERE successor IS NOT NULL;
CREATE INDEX refresh_tokens_sealed_family ON refresh_tokens (family_id) WHERE successor IS NOT NULL;
