"""The mlops command line; nothing imports it."""
