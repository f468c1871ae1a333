"""Figures finance provides to lower layers (see chamahub.extensions)."""
