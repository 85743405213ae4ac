-- SQLite.
-- Emails are unique, and found at sign-in, by a key Latchkey computes in Rust
-- (latchkey_core::user::email_key: NFC of the Unicode lowercase) rather than by lower(email):
-- SQLite's lower() folds ASCII only and PostgreSQL's follows the database's locale, so JOSÉ@x
-- and josé@x could be two accounts. Rows written before this get their key from the store right
-- after it migrates; until then their key is NULL, which the unique index never compares.
ALTER TABLE users ADD COLUMN email_key TEXT;
DROP INDEX users_email_lower;
CREATE UNIQUE INDEX users_email_key ON users (email_key);
