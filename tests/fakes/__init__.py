"""FAKE servers for tests: stand-ins for services that cannot run on the test machines."""
