-- Sessions are now stored by the SHA-256 of their id, so a copy of the database grants
-- nothing. Sessions stored before (by their plain id) are dropped: their users log in again.
DELETE FROM sessions;
