"""Admin for contributions, fines and share-outs."""
