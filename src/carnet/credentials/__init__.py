"""Cards: offline-verifiable credentials (COSE/CWT, base45), issuer key sets and revocation status lists."""
