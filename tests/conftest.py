"""Root fixtures. Tests run with WAGATE_ENV=test (set in pyproject's pytest env)
against real PostgreSQL and Redis."""
