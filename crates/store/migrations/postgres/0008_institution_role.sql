-- Institution staff (hospital, pharmacy, employer) sign in with their own role.
ALTER TABLE principals DROP CONSTRAINT principals_role_check;
ALTER TABLE principals ADD CONSTRAINT principals_role_check
    CHECK (role IN ('citizen','enterprise','institution','government_officer','bank_operator','auditor','admin'));
