"""Clinical layer: the clinical clock, ASTCT CRS/ICANS grading, protocols, iwCLL response, survival."""
