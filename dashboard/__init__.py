"""The results dashboard's data: filters, run diffs, history, rankings, charts, exports and the HTML report."""
