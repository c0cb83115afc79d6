"""Figures (design §8, R-805): the dashboard's KPIs now; hotspots, topic reports and exports in later issues."""
