"""Automatic supervision (issue 6, R-610, R-1004, R-1009): a periodic sweep that sends 催办 before deadlines, 督办
after a breach, escalates repeats and flags units with many returns — each once, each audited."""
