"""見張り: the watchdog (`noroshi watchdog`) that watches Noroshi itself and tells people when it fails."""
