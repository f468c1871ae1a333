"""Settings package: base (boots with no environment), test, production."""
