-- Follow-up (followup.md): simulation tariffs, never in force.

-- simulation: a version that prices only what-if runs and comparisons (followup.md 3). It is loaded
-- as such, takes no activation, and may overlap any version: the overlap trigger guards active ones
-- only, and runs choose by date among active ones only.
ALTER TABLE tariffs DROP CONSTRAINT tariffs_status_check,
    ADD CONSTRAINT tariffs_status_check CHECK (status IN ('pending', 'active', 'superseded', 'simulation'));
ALTER TABLE tariffs DROP CONSTRAINT tariffs_check1,
    ADD CONSTRAINT tariffs_activated_check CHECK ((status IN ('pending', 'simulation')) = (activated_at IS NULL));
