"""M-Pesa integration: the Daraja client, the local Daraja simulator and (later) the Django app around them."""
