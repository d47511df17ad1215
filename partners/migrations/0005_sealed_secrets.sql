-- Outbound tokens are stored sealed (AES-GCM under OCPI_HUB_SECRETS_KEY, see partners/secrets.py), so the
-- column holds bytes. Tokens stored in the clear until now become their UTF-8 bytes here and are sealed by
-- the hub at its next start, before it serves (a sealed value starts with 0x01, a token never does).
ALTER TABLE platforms ALTER COLUMN outbound_token TYPE bytea USING convert_to(outbound_token, 'UTF8');
