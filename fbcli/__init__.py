"""fbcli: replay and debug the customer events that companies send to Friendbuy."""

__version__ = "0.1.0"
