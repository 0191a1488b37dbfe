"""The registry: persons, households, regions, the attribute dictionary, bulk import."""
