-- Discrepancies explained by their code and parameters (service/domain/discrepancies.py): one JSON
-- object per sentence, as a list, and the same from the provider's own view (never naming another
-- provider). The sentences are rendered in the reader's language from the message catalogue.
--
-- Rows stored before this migration keep the English text the engine wrote then and have no
-- parameters: that text is shown as it is. Rows stored after it have parameters and no text.
ALTER TABLE run_discrepancies
    ADD COLUMN parameters jsonb,
    ADD COLUMN provider_parameters jsonb,
    ALTER COLUMN detail DROP NOT NULL,
    ALTER COLUMN provider_detail DROP NOT NULL,
    ADD CONSTRAINT run_discrepancies_explained CHECK (
        (parameters IS NOT NULL AND provider_parameters IS NOT NULL)
        OR (detail IS NOT NULL AND provider_detail IS NOT NULL));
