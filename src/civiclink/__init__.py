"""CivicLink: a city's 12345 government-service hotline, linked both ways with the 110 police desk."""

__version__ = "0.1.0"
