"""The self-service portal and the JSON API (only imported by ``itsm serve``)."""
