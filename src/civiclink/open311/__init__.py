"""Open311 GeoReport v2 (issue 8): the apps' and the web channel's way in, with FixMyStreet's updates."""
