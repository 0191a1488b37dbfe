"""Distribution points: points, devices, escrow, manifests, sync ingest, conflicts, reconciliation."""
