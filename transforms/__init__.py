"""Pipeline stages (Beam PTransforms) and the plain extraction functions they wire."""
