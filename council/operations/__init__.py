"""Operating a Council site: backups and restores."""
