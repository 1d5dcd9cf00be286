"""Work across the domain: dashboard, data quality, retention, reminders, exports, demo data."""
