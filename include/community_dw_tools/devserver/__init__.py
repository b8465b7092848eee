"""Development and test stand-ins for the producers' services (standard library only).

Production points the same client code at the real services through Airflow connections; these servers
exist so that the demo and the tests exercise real HTTP, with realistic faults, on localhost.
"""
