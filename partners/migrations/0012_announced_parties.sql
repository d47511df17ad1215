-- The parties the operator announced for a platform are kept in its settings (announced_parties, see
-- partners/party_claims.py): registration then allows only those. Invitations made before this version
-- held their announcement only as the PLANNED platform's parties, which registration replaces; carry
-- them over for platforms still waiting to register, so the rule holds for them too.
UPDATE platforms f
   SET settings = f.settings || jsonb_build_object('announced_parties', (
           SELECT jsonb_agg(jsonb_build_object('country_code', p.country_code, 'party_id', p.party_id,
                                               'role', p.role) ORDER BY p.id)
             FROM parties p WHERE p.platform_id = f.id))
 WHERE f.outbound_token IS NULL
   AND f.token_hash IS NOT NULL
   AND NOT f.settings ? 'announced_parties'
   AND EXISTS (SELECT 1 FROM parties p WHERE p.platform_id = f.id);
