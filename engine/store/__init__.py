"""The store: the database of one deployment (SQLAlchemy 2, Alembic migrations,
SQLite or PostgreSQL).  The repository (repository.Repo) is the only code that
runs queries; the KPI queries live in kpi_queries/.

May import: ground.
"""
