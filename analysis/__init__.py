"""Pure functions over run records (no files, no models): statistics, rankings, agreement, checks, reference metrics."""
